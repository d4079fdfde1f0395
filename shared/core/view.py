"""What the API, the standalone page and the Argo CD extension show of a pipeline: one JSON-able dict.

Pure: pipeline + state + now in, plain data out. Freight per origin per stage, a pin per app
(state model v2), and the gates (approvals with the rule, windows, holds) as ``status`` shows them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from freightyard.shared.core import eligibility
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.gate_status import gate_summary
from freightyard.shared.core.model import Pipeline, Stage
from freightyard.shared.core.state import Mark, PromotionRecord, StageState, State

API_VERSION = "freightyard.io/v1"
HISTORY_SHOWN = 10
FREIGHT_SHOWN = 50


def pipeline_summary(pipeline: Pipeline, state: State) -> dict[str, Any]:
    """One line of ``GET /api/v1/pipelines``."""
    return {
        "name": pipeline.name,
        "stages": len(pipeline.stages),
        "apps": sum(len(s.apps) for s in pipeline.stages),
        "warehouses": [w.name for w in pipeline.warehouses],
        "freight": len(state.freight),
    }


def pipeline_view(pipeline: Pipeline, state: State, now: dt.datetime) -> dict[str, Any]:
    """``GET /api/v1/pipelines/{name}``: stages, the sources graph and what each stage holds and may take next."""
    return {
        "apiVersion": API_VERSION,
        "name": pipeline.name,
        "warehouses": [
            {"name": w.name, "subscriptions": [{"kind": s.kind, "repoURL": s.repo_url} for s in w.subscriptions]}
            for w in pipeline.warehouses
        ],
        "edges": _edges(pipeline),
        "stages": [_stage(pipeline, stage, state, now) for stage in pipeline.stages],
    }


def freight_view(pipeline: Pipeline, state: State) -> dict[str, Any]:
    """``GET /api/v1/pipelines/{name}/freight``: the catalog, newest first, with where each freight is."""
    where: dict[str, list[str]] = {}
    for stage in pipeline.stages:
        for entry in _stage_freight(state, state.stages.get(stage.name, StageState())).values():
            where.setdefault(entry, []).append(stage.name)
    items = []
    for freight in list(state.freight.values())[:FREIGHT_SHOWN]:
        item = _freight_ref(freight)
        item.update(
            createdAt=freight.created_at,
            commits=[c.to_dict() for c in freight.commits],
            images=[i.to_dict() for i in freight.images],
            charts=[c.to_dict() for c in freight.charts],
            stages=where.get(freight.id, []),
        )
        items.append(item)
    return {"apiVersion": API_VERSION, "pipeline": pipeline.name, "freight": items, "total": len(state.freight)}


def _edges(pipeline: Pipeline) -> list[dict[str, Any]]:
    edges = []
    for stage in pipeline.stages:
        for request in stage.requested_freight:
            sources = request.sources
            if sources.direct:
                edges.append({"from": f"warehouse:{request.origin}", "to": stage.name, "origin": request.origin})
            for upstream in sources.stages:
                edge: dict[str, Any] = {"from": upstream, "to": stage.name, "origin": request.origin}
                if sources.required_soak_seconds:
                    edge["soakSeconds"] = sources.required_soak_seconds
                if len(sources.stages) > 1:
                    edge["availability"] = sources.availability
                edges.append(edge)
    return edges


def _stage(pipeline: Pipeline, stage: Stage, state: State, now: dt.datetime) -> dict[str, Any]:
    stage_state = state.stages.get(stage.name, StageState())
    held = _stage_freight(state, stage_state)
    freight: dict[str, Any] = {}
    for origin, freight_id in held.items():
        entry = _known(state, freight_id)
        holding = stage_state.freight[origin]
        record = next((r for r in stage_state.history if r.id and r.id == holding.promotion), None)
        if record is not None:
            entry.update(promotedAt=record.at, promotedBy=record.by, phase=record.phase)
        mark = stage_state.verifications.get(freight_id)
        entry["verification"] = _mark(mark) if mark else None
        freight[origin] = entry
    return {
        "name": stage.name,
        "autoPromotion": stage.auto_promotion,
        "mechanism": stage.promotion.mechanism,
        "requests": [
            {
                "origin": r.origin,
                "direct": r.sources.direct,
                "upstream": list(r.sources.stages),
                "availability": r.sources.availability,
                "soakSeconds": r.sources.required_soak_seconds,
            }
            for r in stage.requested_freight
        ],
        "freight": freight,
        "apps": [
            {"name": app.name, "project": app.project, "namespace": app.destination.namespace, "pins": pins}
            for app, pins in ((app, _app_pins(stage_state, app.name)) for app in stage.apps)
        ],
        "verification": {
            "configured": stage.verification is not None and not stage.verification.empty,
            "results": {k: _mark(v) for k, v in stage_state.verifications.items() if k in held.values()},
        },
        "approvals": [
            dict(_known(state, k), at=a.at, by=a.by, groups=list(a.groups), reason=a.reason, phase="Approved")
            for k, given in stage_state.gates.approvals.items()
            for a in given
        ],
        "approvalRule": (
            {
                "required": stage.approval.required,
                "groups": list(stage.approval.groups),
                "separateFromPromoter": stage.approval.separate_from_promoter,
            }
            if stage.approval is not None
            else None
        ),
        "hold": _hold(state, stage_state),
        "windows": [
            {"kind": w.kind, "schedule": w.schedule, "durationSeconds": w.duration_seconds, "timeZone": w.time_zone}
            for w in stage.windows
        ],
        "gates": gate_summary(stage, state, _waiting(state, stage, held), now)[1],
        "history": [_record(state, r) for r in stage_state.history[:HISTORY_SHOWN]],
        "candidates": {
            r.origin: _candidate(pipeline, state, stage, r.origin, held.get(r.origin), now=now)
            for r in stage.requested_freight
        },
    }


def _stage_freight(state: State, stage_state: StageState) -> dict[str, str]:
    """Origin → freight id the stage holds (its collection)."""
    return stage_state.collection_ids()


def _app_pins(stage_state: StageState, app: str) -> dict[str, str]:
    """Origin → freight id the app is pinned to; empty when it has no pin (no Application yet)."""
    pin = stage_state.apps.get(app)
    return dict(pin.freight) if pin else {}


def _waiting(state: State, stage: Stage, held: dict[str, str]) -> Freight | None:
    """The newest freight of a requested origin that the stage does not hold yet (approvals are counted on it)."""
    for request in stage.requested_freight:
        newest = next((f for f in state.freight.values() if f.origin == request.origin), None)
        if newest is not None and held.get(request.origin) != newest.id:
            return newest
    return None


def _hold(state: State, stage_state: StageState) -> dict[str, Any] | None:
    """A failure hold (gates) first, else a manual rollback's hold on auto-promotion."""
    if stage_state.gates.hold is not None:
        hold = stage_state.gates.hold
        return dict(_known(state, hold.freight), reason=hold.reason, at=hold.at, by=hold.by)
    if stage_state.hold:
        return dict(_known(state, stage_state.hold), reason="a manual promotion of older freight holds auto-promotion")
    return None


def _candidate(
    pipeline: Pipeline, state: State, stage: Stage, origin: str, current: str | None, *, now: dt.datetime
) -> dict[str, Any] | None:
    """The newest freight newer than the current one that may enter; else the newest, with why it may not."""
    newer = []
    for freight in state.freight.values():  # newest first
        if freight.origin != origin:
            continue
        if freight.id == current:
            break
        newer.append(freight)
    if not newer:
        return None
    for freight in newer:
        verdict = eligibility.check(pipeline, state, freight, stage.name, now)
        if verdict.eligible:
            return dict(_freight_ref(freight), eligible=True, reason=verdict.reason, via=verdict.via)
    newest = newer[0]
    verdict = eligibility.check(pipeline, state, newest, stage.name, now)
    return dict(_freight_ref(newest), eligible=False, reason=verdict.reason, via="")


def _known(state: State, freight_id: str) -> dict[str, Any]:
    freight = state.freight.get(freight_id)
    if freight is None:
        return {"id": freight_id, "alias": freight_id[:7], "shortId": freight_id[:7], "origin": ""}
    return _freight_ref(freight)


def _freight_ref(freight: Freight) -> dict[str, Any]:
    return {"id": freight.id, "alias": freight.alias, "shortId": freight.short_id, "origin": freight.origin}


def _mark(mark: Mark) -> dict[str, str]:
    return {"at": mark.at, "by": mark.by, "phase": mark.phase, "message": mark.message}


def _record(state: State, record: PromotionRecord) -> dict[str, Any]:
    out = dict(_known(state, record.freight))
    out.update(at=record.at, by=record.by, phase=record.phase, message=record.message)
    return out
