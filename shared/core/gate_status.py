"""A stage's gates in one line and one mapping, for ``status`` (and, later, the UI): approvals pending
(``1/2 approvals``), the promotion window in force and when it ends, a hold and why, the last rollback.

Kept apart from the status table so either can change without the other. Pure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from freightyard.shared.core import approvals, windows
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Stage
from freightyard.shared.core.state import State


def gate_summary(stage: Stage, state: State, candidate: Freight | None, now: dt.datetime) -> tuple[str, dict[str, Any]]:
    """(table cell, JSON) for ``stage``; ``candidate``: the freight waiting to enter (approvals are counted on it)."""
    stage_state = state.stages.get(stage.name)
    gates = stage_state.gates if stage_state else None
    parts: list[str] = []
    data: dict[str, Any] = {}
    if stage.approval is not None and candidate is not None:
        given = gates.approvals.get(candidate.id, []) if gates else []
        tally = approvals.tally(stage.approval, given)
        parts.append(f"{tally.fraction()} for {candidate.alias}")
        data["approvals"] = {
            "freight": candidate.id,
            "required": stage.approval.required,
            "counted": [a.to_dict() for a in tally.counted],
            "met": tally.met,
        }
    if stage.windows:
        gate = windows.gate(stage.windows, now)
        if gate.reason:
            parts.append(("window open: " if gate.open else "window closed: ") + gate.reason)
        data["window"] = {
            "open": gate.open,
            "reason": gate.reason,
            "until": gate.until.strftime("%Y-%m-%dT%H:%M:%SZ") if gate.until else None,
        }
    if gates and gates.hold:
        parts.append(f"held: {gates.hold.reason}")
        data["hold"] = gates.hold.to_dict()
    if gates and gates.rollbacks:
        last = gates.rollbacks[0]
        restored = state.freight.get(last.restored)
        failed = state.freight.get(last.freight)
        parts.append(
            f"last rollback {last.at}: {failed.alias if failed else last.freight[:7]} -> "
            f"{restored.alias if restored else last.restored[:7]} ({last.check or 'verification'} failed)"
        )
        data["lastRollback"] = last.to_dict()
    return "; ".join(parts) or "-", data
