"""``freightyard demo``: the hotfix-lane pipeline end to end on local repos, an OCI layout and a state file."""
