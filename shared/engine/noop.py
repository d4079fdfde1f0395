"""Render-level no-op detection: render each app of a stage with the candidate and with the current
freight; equal render hashes mean promoting changes nothing there.

Per app: a monorepo commit that touches one app's base changes only that app's hash, so only that
app is re-verified. Trees come from the git mirror cache at each freight's commit (image-only
freight renders the app's ``targetRevision``, default branch when unset, for both sides).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Pipeline, Stage
from freightyard.shared.render import RenderEnv
from freightyard.shared.render.stage import StageRender, render_stage
from freightyard.shared.sources.git import GitMirrors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoopVerdict:
    """``changed`` lists the apps whose render differs; ``unchanged`` is True when none does."""

    changed: tuple[str, ...]
    candidate: StageRender

    @property
    def unchanged(self) -> bool:
        return not self.changed


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


@dataclass(frozen=True)
class AppRender:
    """One app rendered with a candidate collection: its hash ("" when it failed to render), the
    commit its tree came from, and whether its path exists there at all."""

    render_hash: str
    commit: str
    exists: bool = True


def render_apps(
    pipeline: Pipeline, stage: Stage, candidate: Freight, *, mirrors: GitMirrors, env: RenderEnv
) -> dict[str, AppRender] | None:
    """Render each app of ``stage`` with ``candidate``, one tree per (repo, revision).

    An app whose path is missing at that commit is reported ``exists=False`` (it is not pinned: an
    app added at HEAD appears in a stage only once freight containing it arrives). An app that fails
    to render gets an empty hash (it is re-pinned, conservatively). None when a tree cannot be
    exported at all (a mirror unreachable): then every app is re-pinned.
    """
    from freightyard.shared.gitops.trees import export_tree
    from freightyard.shared.render import render_app
    from freightyard.shared.render.stage import app_revision

    out: dict[str, AppRender] = {}
    trees: dict[tuple[str, str], tuple[Path, str]] = {}
    with tempfile.TemporaryDirectory(prefix="freightyard-pins-") as tmp:
        for app in stage.apps:
            try:
                repo, revision = app_revision(pipeline, app, candidate)
                key = (repo, revision)
                if key not in trees:
                    dest = Path(tmp) / f"tree-{len(trees)}"
                    tree = export_tree(
                        mirrors, repo, revision, dest, credentials_name=pipeline.git_credentials_name(repo)
                    )
                    trees[key] = (tree.root, tree.commit)
            except FreightyardError as error:
                log.warning("per-app pins for %s: cannot read app trees (%s); re-pinning every app", stage.name, error)
                return None
            root, commit = trees[key]
            if not (root / app.path).is_dir():
                out[app.name] = AppRender("", commit, exists=False)
                continue
            try:
                rendered = render_app(pipeline, stage.name, app, candidate, root, env)
            except FreightyardError as error:
                log.warning("app %s of %s does not render (%s); re-pinning it", app.name, stage.name, error.message)
                out[app.name] = AppRender("", commit)
                continue
            out[app.name] = AppRender(rendered.render_hash, commit)
    return out
