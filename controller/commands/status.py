"""``freightyard status [STAGE]``: each stage, where it takes freight from, the freight it holds per origin
and whether it is verified; with ``-o wide`` or a STAGE, each app's pin (what its Application points at)."""

from __future__ import annotations

import argparse
from typing import Any

from freightyard.controller.options import add_common, load_context
from freightyard.controller.output import emit, print_table
from freightyard.shared.core import eligibility
from freightyard.shared.core.gate_status import gate_summary
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.state import State, now_utc
from freightyard.shared.engine.promotion import Engine


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("status", help="the stage graph, each stage's freight per origin and app pins")
    add_common(parser, output=False)
    parser.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("stage", nargs="?", help="show only this stage, with its app pins")
    parser.set_defaults(run=run)


def stage_rows(pipeline: Pipeline, state: State) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """One row per stage × requested origin; the data has one entry per stage."""
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []
    now = now_utc()
    newest = {
        w.name: next((f for f in state.freight.values() if f.origin == w.name), None) for w in pipeline.warehouses
    }
    for stage in pipeline.stages:
        stage_state = state.stages.get(stage.name)
        record = stage_state.current if stage_state else None
        origins = []
        stage_rows_here: list[list[str]] = []
        for request in stage.requested_freight:
            parts = (["direct"] if request.sources.direct else []) + list(request.sources.stages)
            join = " & " if request.sources.availability == "All" else " | "
            holding = stage_state.freight.get(request.origin) if stage_state else None
            brought = (
                next((r for r in stage_state.history if holding and r.id == holding.promotion), record)
                if stage_state
                else None
            )  # the promotion that brought this origin's freight, not the stage's latest
            freight = state.freight.get(holding.id) if holding else None
            verification = stage_state.verifications.get(holding.id) if stage_state and holding else None
            candidate = newest.get(request.origin)
            pending = ""
            if candidate and (freight is None or candidate.id != freight.id):
                verdict = eligibility.check(pipeline, state, candidate, stage.name, now)
                pending = f"{candidate.alias}: {'eligible' if verdict.eligible else verdict.reason}"
            sources = f"{request.origin}<-{join.join(parts)}"
            stage_rows_here.append(
                [
                    stage.name,
                    sources,
                    freight.alias if freight else "-",
                    freight.short_id if freight else "-",
                    holding.at if holding and holding.at else "-",
                    brought.by if brought else "-",
                    brought.phase if brought else "-",
                    verification.phase if verification else "-",
                    pending or "-",
                ]
            )
            origins.append(
                {
                    "origin": request.origin,
                    "sources": sources,
                    "freight": freight.to_dict() if freight else None,
                    "promotion": holding.promotion if holding else None,
                    "verification": verification.to_dict() if verification else None,
                    "newest": pending or None,
                }
            )
        held = stage_state.collection_ids() if stage_state else {}
        waiting = next(
            (
                c
                for r in stage.requested_freight
                if (c := newest.get(r.origin)) is not None and held.get(r.origin) != c.id
            ),
            None,
        )
        gates_cell, gates_data = gate_summary(stage, state, waiting, now)
        rows.extend([*row, gates_cell if index == 0 else ""] for index, row in enumerate(stage_rows_here))
        data.append(
            {
                "stage": stage.name,
                "origins": origins,
                "promotion": record.to_dict() if record else None,
                "apps": {n: p.to_dict() for n, p in stage_state.apps.items()} if stage_state else {},
                "gates": gates_data,
            }
        )
    return rows, data


def pin_rows(pipeline: Pipeline, state: State, stages: list[str]) -> list[list[str]]:
    rows = []
    for stage in pipeline.stages:
        if stage.name not in stages:
            continue
        stage_state = state.stages.get(stage.name)
        for app in stage.apps:
            pin = stage_state.apps.get(app.name) if stage_state else None
            if pin is None:
                rows.append([stage.name, app.name, "(no pin: no Application yet)", "-", "-", "-"])
                continue
            members = ", ".join(
                f"{origin}={state.freight[i].alias if i in state.freight else i[:7]}"
                for origin, i in sorted(pin.freight.items())
            )
            rows.append(
                [stage.name, app.name, members, pin.revision[:12] or "-", pin.render_hash[7:19] or "-", pin.promotion]
            )
    return rows


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    if args.stage:
        pipeline.stage(args.stage)  # NotFoundError lists the known stages
    state = Engine(pipeline, context.store(pipeline)).state()
    rows, data = stage_rows(pipeline, state)
    if args.stage:
        rows = [r for r in rows if r[0] == args.stage]
        data = [d for d in data if d["stage"] == args.stage]
    if args.output in ("json", "yaml"):
        emit({"pipeline": pipeline.name, "stages": data}, args.output)
        return 0
    print(f"pipeline {pipeline.name}  (state: {context.store(pipeline).description})")
    print_table(["STAGE", "ORIGIN", "FREIGHT", "ID", "PROMOTED", "BY", "PHASE", "VERIFIED", "NEWEST", "GATES"], rows)
    if args.output == "wide" or args.stage:
        print()
        stages = [args.stage] if args.stage else [s.name for s in pipeline.stages]
        print_table(["STAGE", "APP", "FREIGHT", "REVISION", "RENDER", "PROMOTION"], pin_rows(pipeline, state, stages))
    return 0
