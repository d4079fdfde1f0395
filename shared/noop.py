"""Render-level no-op detection: render each app of a stage with the candidate and with the current
freight; equal render hashes mean promoting changes nothing there.

Per app: a monorepo commit that touches one app's base changes only that app's hash, so only that
app is re-verified. Trees come from the git mirror cache at each freight's commit (image-only
freight renders the app's ``targetRevision``, default branch when unset, for both sides).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from freightyard.shared.errors import ConfigError, FreightyardError, RenderError
from freightyard.shared.freight import Freight
from freightyard.shared.gitops.trees import export_tree
from freightyard.shared.model import App, Pipeline, Stage
from freightyard.shared.params import app_repo_url
from freightyard.shared.render import Rendered, RenderEnv, render_app
from freightyard.shared.sources.git import GitMirrors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageRender:
    """One render per app (by name) and the commit each app's tree came from."""

    apps: dict[str, Rendered]
    sources: dict[str, str] = field(default_factory=dict)  # app -> commit SHA rendered

    @property
    def render_hash(self) -> str:
        return stage_hash({name: r.render_hash for name, r in self.apps.items()})


@dataclass(frozen=True)
class NoopVerdict:
    """``changed`` lists the apps whose render differs; ``unchanged`` is True when none does."""

    changed: tuple[str, ...]
    candidate: StageRender

    @property
    def unchanged(self) -> bool:
        return not self.changed


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
            tree = export_tree(mirrors, repo, revision, dest)
            trees[key] = (tree.root, tree.commit)
        root, commit = trees[key]
        renders[app.name] = render_app(pipeline, stage.name, app, freight, root, env)
        sources[app.name] = commit
    return StageRender(renders, sources)


def detect(
    pipeline: Pipeline, stage: Stage, candidate: Freight, current: Freight, *, mirrors: GitMirrors, env: RenderEnv
) -> NoopVerdict | None:
    """Compare renders of ``candidate`` and ``current``; None when either cannot be rendered (then promote)."""
    if not stage.apps:
        return None
    with tempfile.TemporaryDirectory(prefix="freightyard-noop-") as tmp:
        try:
            new = render_stage(pipeline, stage, candidate, mirrors=mirrors, env=env, workdir=Path(tmp) / "candidate")
            old = render_stage(pipeline, stage, current, mirrors=mirrors, env=env, workdir=Path(tmp) / "current")
        except FreightyardError as error:
            log.warning("no-op detection for %s skipped: %s", stage.name, error.message)
            return None
    changed = tuple(name for name, rendered in new.apps.items() if old.apps[name].render_hash != rendered.render_hash)
    return NoopVerdict(changed, new)
