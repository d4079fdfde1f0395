"""One stage rendered: each app's tree exported from the git mirror at its freight's commit, then rendered.

No-op detection (``freightyard.shared.engine.noop``), render-branch and ``freightyard diff`` all render this way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from freightyard.shared.core.errors import ConfigError, RenderError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import App, Pipeline, Stage
from freightyard.shared.core.params import app_repo_url
from freightyard.shared.gitops.trees import export_tree
from freightyard.shared.render import Rendered, RenderEnv, render_app
from freightyard.shared.sources.git import GitMirrors


@dataclass(frozen=True)
class StageRender:
    """One render per app (by name) and the commit each app's tree came from."""

    apps: dict[str, Rendered]
    sources: dict[str, str] = field(default_factory=dict)  # app -> commit SHA rendered

    @property
    def render_hash(self) -> str:
        return stage_hash({name: r.render_hash for name, r in self.apps.items()})


def stage_hash(app_hashes: dict[str, str]) -> str:
    """One hash over a stage's per-app render hashes (app names included, order-independent)."""
    text = "\n".join(f"{name}={value}" for name, value in sorted(app_hashes.items()))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def app_revision(pipeline: Pipeline, app: App, freight: Freight) -> tuple[str, str]:
    """(repository, revision) an app renders from: the freight's commit there, else ``targetRevision``."""
    try:
        repo = app_repo_url(pipeline, app, freight)
    except ConfigError as error:
        raise RenderError(f"app {app.name!r}: {error.message}") from error
    commit = freight.commit_from(repo)
    return repo, commit.id if commit else app.target_revision


def render_stage(
    pipeline: Pipeline,
    stage: Stage,
    freight: Freight,
    *,
    mirrors: GitMirrors,
    env: RenderEnv,
    workdir: Path,
    apps: Iterable[App] | None = None,
) -> StageRender:
    """Render ``apps`` (default: all) of ``stage`` with ``freight``, exporting each needed tree once."""
    trees: dict[tuple[str, str], tuple[Path, str]] = {}
    renders: dict[str, Rendered] = {}
    sources: dict[str, str] = {}
    for app in stage.apps if apps is None else apps:
        repo, revision = app_revision(pipeline, app, freight)
        key = (repo, revision)
        if key not in trees:
            dest = workdir / f"tree-{len(trees)}"
            tree = export_tree(mirrors, repo, revision, dest, credentials_name=pipeline.git_credentials_name(repo))
            trees[key] = (tree.root, tree.commit)
        root, commit = trees[key]
        renders[app.name] = render_app(pipeline, stage.name, app, freight, root, env)
        sources[app.name] = commit
    return StageRender(renders, sources)
