"""What the API, the standalone page and the Argo CD extension show of a pipeline: one JSON-able dict.

Pure: pipeline + state + now in, plain data out. The shape is the state model v2's (freight per
origin per stage, a pin per app) so the UI does not change when the state does; only ``_stage_freight``
and ``_app_pins`` read today's ``StageState.current``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from freightyard.shared.core import eligibility
from freightyard.shared.core.freight import Freight
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
        record = stage_state.current
        if record is not None and record.freight == freight_id:
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
            for app, pins in ((app, _app_pins(state, stage_state)) for app in stage.apps)
        ],
        "verification": {
            "configured": stage.verification is not None and not stage.verification.empty,
            "results": {k: _mark(v) for k, v in stage_state.verifications.items() if k in held.values()},
        },
        "approvals": [dict(_known(state, k), **_mark(v)) for k, v in stage_state.approvals.items()],
        "hold": _known(state, stage_state.hold) if stage_state.hold else None,
        "windows": [],  # promotion windows: filled once the gates land in the model
        "history": [_record(state, r) for r in stage_state.history[:HISTORY_SHOWN]],
        "candidates": {
            r.origin: _candidate(pipeline, state, stage, r.origin, held.get(r.origin), now=now)
            for r in stage.requested_freight
        },
    }


def _stage_freight(state: State, stage_state: StageState) -> dict[str, str]:
    """Origin → freight id the stage holds (v2: ``StageState.freight``; today: the one current pin)."""
    current = stage_state.current
    if current is None:
        return {}
    freight = state.freight.get(current.freight)
    return {freight.origin if freight else "": current.freight}


def _app_pins(state: State, stage_state: StageState) -> dict[str, str]:
    """Origin → freight id each app is pinned to (v2: per app; today every app follows the stage)."""
    return _stage_freight(state, stage_state)


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
