"""Verifying a stage after a promotion: Argo CD Application sync/health (docs/architecture.md §3.3), command checks
and HTTP checks; ``runner.verify`` runs them and records the outcome in the pipeline's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from freightyard.shared.engine.promotion import Engine
    from freightyard.shared.verification.runner import Outcome


def verify_stage(engine: Engine, stage_name: str) -> Outcome:
    """Check the stage's current freight and record the result (the controller's hook).

    Blocks until every check is decided or the stage's ``verification.timeout`` passes.
    """
    from freightyard.shared.verification.runner import verify

    return verify(engine, stage_name)
