"""What a stage's gates remember: approvals (who, groups, when, why), an auto-promotion hold (why), freight
that failed here, window overrides and rollbacks, stored under ``gates:`` in the stage's state document.

Pure data with ``to_dict``/``from_dict``; the rules over it live in ``approvals``, ``windows`` and
``rollback``. Legacy ``approvals: {freight: {at, by}}`` documents read as approvals without groups or reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_APPROVALS_PER_FREIGHT = 20
MAX_EVENTS = 20


@dataclass(frozen=True)
class Approval:
    by: str
    at: str
    groups: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"by": self.by, "at": self.at}
        if self.groups:
            out["groups"] = list(self.groups)
        if self.reason:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        return cls(
            by=str(data.get("by", "")),
            at=str(data.get("at", "")),
            groups=tuple(str(g) for g in data.get("groups") or ()),
            reason=str(data.get("reason", "")),
        )


@dataclass(frozen=True)
class Event:
    """A hold, a failed mark, a rollback or a window override: which freight, when, who, why."""

    freight: str
    at: str
    reason: str
    by: str = ""
    check: str = ""  # the failing check (holds and rollbacks)
    restored: str = ""  # rollbacks: the freight put back

    def to_dict(self) -> dict[str, str]:
        items = (
            ("freight", self.freight),
            ("at", self.at),
            ("by", self.by),
            ("reason", self.reason),
            ("check", self.check),
            ("restored", self.restored),
        )
        return {k: v for k, v in items if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            freight=str(data.get("freight", "")),
            at=str(data.get("at", "")),
            reason=str(data.get("reason", "")),
            by=str(data.get("by", "")),
            check=str(data.get("check", "")),
            restored=str(data.get("restored", "")),
        )


@dataclass
class StageGates:
    approvals: dict[str, list[Approval]] = field(default_factory=dict)  # freight id -> approvals, oldest first
    hold: Event | None = None  # auto-promotion waits until someone promotes by hand
    failed: dict[str, Event] = field(default_factory=dict)  # freight id -> why it failed in this stage
    overrides: list[Event] = field(default_factory=list)  # window overrides, newest first
    rollbacks: list[Event] = field(default_factory=list)  # newest first

    def approve(self, freight_id: str, approval: Approval) -> None:
        """Record ``approval``; the same person approving again replaces their earlier approval."""
        kept = [a for a in self.approvals.get(freight_id, []) if a.by != approval.by]
        self.approvals[freight_id] = [*kept, approval][-MAX_APPROVALS_PER_FREIGHT:]

    def freight_ids(self) -> set[str]:
        used = set(self.approvals) | set(self.failed)
        if self.hold:
            used.add(self.hold.freight)
        return used

    def prune(self, known: set[str] | dict[str, Any]) -> None:
        self.approvals = {k: v for k, v in self.approvals.items() if k in known}
        self.failed = {k: v for k, v in self.failed.items() if k in known}
        del self.overrides[MAX_EVENTS:]
        del self.rollbacks[MAX_EVENTS:]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.approvals:
            out["approvals"] = {k: [a.to_dict() for a in v] for k, v in self.approvals.items()}
        if self.hold:
            out["hold"] = self.hold.to_dict()
        if self.failed:
            out["failed"] = {k: v.to_dict() for k, v in self.failed.items()}
        if self.overrides:
            out["windowOverrides"] = [e.to_dict() for e in self.overrides]
        if self.rollbacks:
            out["rollbacks"] = [e.to_dict() for e in self.rollbacks]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, legacy_approvals: dict[str, Any] | None = None) -> StageGates:
        data = data or {}
        gates = cls(
            approvals={
                str(k): [Approval.from_dict(a) for a in (v if isinstance(v, list) else [v])]
                for k, v in (data.get("approvals") or {}).items()
            },
            hold=Event.from_dict(data["hold"]) if data.get("hold") else None,
            failed={str(k): Event.from_dict(v) for k, v in (data.get("failed") or {}).items()},
            overrides=[Event.from_dict(e) for e in data.get("windowOverrides") or []],
            rollbacks=[Event.from_dict(e) for e in data.get("rollbacks") or []],
        )
        for freight_id, mark in (legacy_approvals or {}).items():  # version-1 ``approvals: {id: {at, by}}``
            legacy = Approval(by=str(mark.get("by", "")), at=str(mark.get("at", "")))
            if legacy.by not in {a.by for a in gates.approvals.get(str(freight_id), [])}:
                gates.approve(str(freight_id), legacy)
        return gates
