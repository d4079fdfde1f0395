"""Plugin env values survive Argo CD's Envsubst: a port of Go's os.Expand checked on its own cases first,
then every value the generator emits for plugin.env, with hostile commit messages, branches and tags."""

from __future__ import annotations

import json

import pytest

from freightyard.shared.core.envsubst import (
    MAX_ENV_FREIGHT_BYTES,
    argocd_envsubst,
    freight_env_json,
    go_os_expand,
)
from freightyard.shared.core.freight import Commit, Freight, Image
from freightyard.shared.core.params import parameter_sets
from tests.helpers.generator_world import (
    DIGEST1,
    IMAGE_REPO,
    REPO_URL,
    SHA1,
    load_example,
    pipeline,
    plugin_env,
    render_application_set,
    state_with,
)

ENV = {"HOME": "/root", "ARGOCD_APP_NAME": "shop-dev", "x": "X"}

# Go's os.Expand behaviour (from its source and its own tests): name scanning, braces, specials, eating
GO_CASES = [
    ("", ""),
    ("plain", "plain"),
    ("$HOME", "/root"),
    ("${HOME}", "/root"),
    ("read $HOME now", "read /root now"),
    ("$HOMEx", ""),  # the longest alphanumeric name, unknown: empty
    ("${HOME}x", "/rootx"),
    ("$", "$"),  # a trailing $ stays
    ("a$", "a$"),
    ("$ x", "$ x"),  # $ not followed by a name stays
    ("${", ""),  # eaten: bad syntax
    ("WIP ${ unfinished", "WIP  unfinished"),  # "${" with no "}" is eaten: the JSON around it breaks
    ("${}", ""),
    ("${}x", "x"),
    ("$$", "$"),  # Argo CD's mapping returns "$" for "$"
    ("$1", ""),
    ("${*}", ""),
    ("$-x", "x"),
    ("100$%", "100$%"),
    ("${x", "x"),
    ("${x}${x}", "XX"),
    ("$x$x", "XX"),
    ("é$x", "éX"),
]


@pytest.mark.parametrize(("text", "expanded"), GO_CASES)
def test_the_port_behaves_like_go(text: str, expanded: str) -> None:
    assert argocd_envsubst(text, ENV) == expanded


def test_older_argocd_maps_double_dollar_to_empty() -> None:
    assert argocd_envsubst("a$$b", ENV, keep_double_dollar=False) == "ab"
    assert go_os_expand("${a}-$b", str.upper) == "A-B"


HOSTILE = [
    "WIP ${ unfinished",
    "read $HOME",
    "cost: $$5 and ${HOME} and $",
    "${}",
    "$(rm -rf /)",
    'back\\slash "quote" \u2028 line',
    "x" * 200_000,  # a huge message: left out of the env
]


@pytest.mark.parametrize("message", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("old_argocd", [False, True])
def test_every_plugin_env_value_survives_envsubst(message: str, old_argocd: bool) -> None:
    freight = Freight(
        origin="main",
        commits=(Commit(repo_url=REPO_URL, id=SHA1, branch="feat/$HOME-${x}", message=message, author="$USER"),),
        images=(Image(repo_url=IMAGE_REPO, tag="v1$", digest=DIGEST1),),
        created_at="2024-05-01T10:00:00Z",
    )
    sets = parameter_sets(pipeline(), state_with({"dev": freight, "prod": freight}))
    apps = [
        app
        for example in ("applicationset-gotemplate.yaml", "applicationset-fasttemplate.yaml")
        for app in render_application_set(load_example(example), sets)
    ]
    assert len(apps) >= 4
    for app in apps:
        env = plugin_env(app)  # exactly what the examples put in plugin.env
        for name, value in env.items():
            assert argocd_envsubst(value, ENV, keep_double_dollar=not old_argocd) == value, name
        carried = Freight.from_json(env["FREIGHT"])  # what the CMP decodes: the same artifacts, same id
        assert carried.id == freight.id and carried.commits[0].branch == "feat/$HOME-${x}"
        assert carried.images[0].tag == "v1$" and len(env["FREIGHT"]) < MAX_ENV_FREIGHT_BYTES


def test_freight_too_large_for_the_env_is_left_out() -> None:
    big = {"id": "x", "origin": "main", "images": [{"repoURL": f"r/{i}", "tag": "t" * 100} for i in range(400)]}
    assert freight_env_json(json.dumps(big)) == ""
    assert json.loads(freight_env_json('{"tag": "$x"}')) == {"tag": "$x"}
