"""A pipeline's state (freight catalog, stage pins, history, approvals, verifications) and its
ConfigMap form.

The document is a plain ConfigMap, readable with ``kubectl get cm -o yaml``::

    data:
      freight.yaml      the catalog: a list of freight, newest first
      stage.<name>.yaml current pin, recent promotions, verifications and approvals of one stage

Pure: conversion, pruning and size bounds only; stores do the I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from freightyard.shared.core.errors import NotFoundError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.gates import StageGates

MAX_DOCUMENT_BYTES = 900 * 1024  # ConfigMaps are capped at 1 MiB; leave room for metadata
DEFAULT_FREIGHT_PER_WAREHOUSE = 20
DEFAULT_HISTORY = 20
DEFAULT_VERIFICATIONS = 50
SUCCEEDED, FAILED, NOOP, RUNNING = "Succeeded", "Failed", "Noop", "Running"
VERIFIED_PHASES = ("Succeeded", "Skipped")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


@dataclass
class PromotionRecord:
    freight: str
    stage: str
    by: str
    at: str
    phase: str
    mechanism: str = "pin"
    render_hash: str = ""
    message: str = ""
    revision: str = ""  # what the stage's Applications should point at (commit, branch head, chart version)
    changed_apps: list[str] = field(default_factory=list)  # apps whose render changed; empty: all/unknown

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "freight": self.freight,
            "stage": self.stage,
            "by": self.by,
            "at": self.at,
            "phase": self.phase,
            "mechanism": self.mechanism,
        }
        for key, value in (("renderHash", self.render_hash), ("message", self.message), ("revision", self.revision)):
            if value:
                out[key] = value
        if self.changed_apps:
            out["changedApps"] = list(self.changed_apps)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromotionRecord:
        return cls(
            freight=str(data["freight"]),
            stage=str(data.get("stage", "")),
            by=str(data.get("by", "")),
            at=str(data.get("at", "")),
            phase=str(data.get("phase", SUCCEEDED)),
            mechanism=str(data.get("mechanism", "pin")),
            render_hash=str(data.get("renderHash", "")),
            message=str(data.get("message", "")),
            revision=str(data.get("revision", "")),
            changed_apps=[str(a) for a in data.get("changedApps") or []],
        )


@dataclass
class Mark:
    """A verification result or an approval of one freight in one stage."""

    at: str
    by: str = ""
    phase: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            k: v for k, v in (("at", self.at), ("by", self.by), ("phase", self.phase), ("message", self.message)) if v
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mark:
        return cls(
            at=str(data.get("at", "")),
            by=str(data.get("by", "")),
            phase=str(data.get("phase", "")),
            message=str(data.get("message", "")),
        )


@dataclass
class StageState:
    current: PromotionRecord | None = None
    history: list[PromotionRecord] = field(default_factory=list)  # newest first
    verifications: dict[str, Mark] = field(default_factory=dict)  # freight id -> result
    gates: StageGates = field(default_factory=StageGates)  # approvals, holds, failed marks (gates.py)
    hold: str = ""  # a manual promotion of older freight holds auto-promotion until the candidate is promoted

    def is_verified(self, freight_id: str) -> bool:
        mark = self.verifications.get(freight_id)
        return mark is not None and mark.phase in VERIFIED_PHASES

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.current:
            out["current"] = self.current.to_dict()
        if self.hold:
            out["autoPromotionHold"] = self.hold
        if self.verifications:
            out["verifications"] = {k: v.to_dict() for k, v in self.verifications.items()}
        gates = self.gates.to_dict()
        if gates:
            out["gates"] = gates
        if self.history:
            out["history"] = [h.to_dict() for h in self.history]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageState:
        current = data.get("current")
        return cls(
            current=PromotionRecord.from_dict(current) if current else None,
            history=[PromotionRecord.from_dict(h) for h in data.get("history") or []],
            verifications={str(k): Mark.from_dict(v) for k, v in (data.get("verifications") or {}).items()},
            gates=StageGates.from_dict(data.get("gates"), legacy_approvals=data.get("approvals")),
            hold=str(data.get("autoPromotionHold", "")),
        )


@dataclass
class State:
    freight: dict[str, Freight] = field(default_factory=dict)  # insertion order: newest first
    stages: dict[str, StageState] = field(default_factory=dict)

    def stage(self, name: str) -> StageState:
        return self.stages.setdefault(name, StageState())

    def current_freight(self, stage: str) -> Freight | None:
        record = self.stages.get(stage, StageState()).current
        return self.freight.get(record.freight) if record else None

    def add_freight(self, freight: Freight) -> bool:
        """Add to the catalog (newest first); False when it is already known."""
        if freight.id in self.freight:
            return False
        self.freight = {freight.id: freight, **self.freight}
        return True

    def in_use(self) -> set[str]:
        used = set()
        for stage in self.stages.values():
            if stage.current:
                used.add(stage.current.freight)
            used.update(stage.gates.freight_ids())
            if stage.hold:
                used.add(stage.hold)
        return used


def state_from_document(document: dict[str, Any] | None) -> State:
    if not document:
        return State()
    data = document.get("data") or {}
    state = State()
    for item in yaml.safe_load(data.get("freight.yaml") or "[]") or []:
        freight = Freight.from_dict(item)
        state.freight[freight.id] = freight
    for key, text in data.items():
        if key.startswith("stage.") and key.endswith(".yaml"):
            state.stages[key[len("stage.") : -len(".yaml")]] = StageState.from_dict(yaml.safe_load(text) or {})
    return state


def state_to_document(
    state: State, *, pipeline: str, name: str, namespace: str, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ConfigMap for ``state``, pruned to fit; keeps the previous document's metadata."""
    prune(state)
    document = _encode(state, pipeline, name, namespace, previous)
    keep, history = DEFAULT_FREIGHT_PER_WAREHOUSE, DEFAULT_HISTORY
    while len(yaml.safe_dump(document)) > MAX_DOCUMENT_BYTES and (keep > 1 or history > 1):
        keep, history = max(1, keep // 2), max(1, history // 2)
        prune(state, keep_per_warehouse=keep, history=history)
        document = _encode(state, pipeline, name, namespace, previous)
    return document


def _encode(state: State, pipeline: str, name: str, namespace: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    metadata = dict((previous or {}).get("metadata") or {})
    metadata.update(name=name, namespace=namespace)
    labels = dict(metadata.get("labels") or {})
    labels.update({"app.kubernetes.io/managed-by": "freightyard", "freightyard.io/pipeline": pipeline})
    metadata["labels"] = labels
    data = {"freight.yaml": _dump([f.to_dict() for f in state.freight.values()])}
    for stage_name in sorted(state.stages):
        data[f"stage.{stage_name}.yaml"] = _dump(state.stages[stage_name].to_dict())
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=1000)


def prune(
    state: State,
    *,
    keep_per_warehouse: int = DEFAULT_FREIGHT_PER_WAREHOUSE,
    history: int = DEFAULT_HISTORY,
    verifications: int = DEFAULT_VERIFICATIONS,
) -> None:
    """Bound the catalog (newest N per warehouse plus all in use) and each stage's records."""
    for stage in state.stages.values():
        del stage.history[history:]
    used = state.in_use()
    counts: dict[str, int] = {}
    kept: dict[str, Freight] = {}
    for freight_id, freight in state.freight.items():
        counts[freight.origin] = counts.get(freight.origin, 0) + 1
        if counts[freight.origin] <= keep_per_warehouse or freight_id in used:
            kept[freight_id] = freight
    state.freight = kept
    for stage in state.stages.values():
        stage.verifications = {k: v for k, v in stage.verifications.items() if k in kept}
        if len(stage.verifications) > verifications:
            newest = sorted(stage.verifications.items(), key=lambda kv: kv[1].at, reverse=True)[:verifications]
            stage.verifications = dict(newest)
        stage.gates.prune(kept)


def find_freight(state: State, ref: str) -> Freight:
    """Freight by full id, a unique id prefix (4+ characters) or its alias."""
    ref = ref.strip()
    if ref in state.freight:
        return state.freight[ref]
    matches = [f for f in state.freight.values() if f.alias == ref or (len(ref) >= 4 and f.id.startswith(ref))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        candidates = ", ".join(f.short_id for f in matches)
        raise NotFoundError(f"freight {ref!r} is ambiguous ({candidates}): give more of the id")
    raise NotFoundError(f"no freight {ref!r} in the catalog (see: freightyard freight list)")
