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
