"""What happens when verification of a stage's freight fails: the stage's ``verification.onFailure`` decides.

``rollback``: put back the freight the stage held before (of the same origin), mark the failed freight failed
here and hold auto-promotion; ``hold``: only the mark and the hold. A failure of a rollback's own
verification, or of a re-verification, never rolls back again (no ping-pong): it holds. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Stage
from freightyard.shared.core.state import FAILED, StageState

ROLLED_BACK = "RolledBack"


@dataclass(frozen=True)
class FailurePlan:
    hold: bool  # mark failed and hold auto-promotion
    restore: str = ""  # freight id to roll back to
    why: str = ""


def plan(
    stage: Stage, stage_state: StageState, failed: Freight, catalog: dict[str, Freight], *, first: bool
) -> FailurePlan:
    """The reaction to ``failed`` failing verification in ``stage``; ``first``: its first verification.

    Per origin: only the failed freight's own origin entry of the stage's collection is rolled back."""
    on_failure = stage.verification.on_failure if stage.verification else ""
    if not on_failure:
        return FailurePlan(False, why="verification.onFailure is not set: the failure is only recorded")
    holding = stage_state.freight.get(failed.origin)
    if on_failure == "hold" or holding is None or holding.id != failed.id:
        return FailurePlan(True, why="onFailure: hold")
    landed = next((r for r in stage_state.history if r.id and r.id == holding.promotion), None)
    if not first or (landed is not None and landed.phase == ROLLED_BACK):
        return FailurePlan(True, why="a re-verification or a rollback failed: holding instead of rolling back again")
    previous = previous_freight(stage_state, failed, catalog)
    if not previous:
        return FailurePlan(True, why=f"nothing to roll back to: {stage.name} held no earlier {failed.origin} freight")
    return FailurePlan(True, restore=previous, why="onFailure: rollback")


def previous_freight(stage_state: StageState, failed: Freight, catalog: dict[str, Freight]) -> str:
    """The freight of ``failed``'s origin the stage held before it (newest earlier successful record)."""
    for record in stage_state.history:  # newest first
        if record.phase == FAILED:
            continue
        brought = record.brought or {}
        candidate = brought.get(failed.origin, "")
        if not candidate and record.freight in catalog and catalog[record.freight].origin == failed.origin:
            candidate = record.freight
        if not candidate or candidate == failed.id:
            continue
        if candidate in catalog:
            return candidate
    return ""
