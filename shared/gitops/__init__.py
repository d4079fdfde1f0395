"""Git writes for promotion mechanisms: trees out of the mirror cache, and commit-push-retry into remotes.

``trees.export_tree`` copies one commit's files out of the bare mirror (for rendering and copying);
``workspace.commit_and_push`` clones a branch from the mirror, applies a change, commits it with the
configured author and pushes, rebasing (or re-applying) and retrying when another commit landed first.
"""
