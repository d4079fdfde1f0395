"""``freightyard status``: each stage, where it takes freight from, what it holds and whether it is verified."""

from __future__ import annotations

import argparse
from typing import Any

from freightyard.controller.options import add_common, load_context
from freightyard.controller.output import emit
from freightyard.shared.core import eligibility
from freightyard.shared.core.gate_status import gate_summary
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.state import State, now_utc
from freightyard.shared.engine.promotion import Engine


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("status", help="the stage graph and each stage's freight")
    add_common(parser)
    parser.add_argument("--pipeline", "-p")
    parser.set_defaults(run=run)


def stage_rows(pipeline: Pipeline, state: State) -> tuple[list[list[str]], list[dict[str, Any]]]:
    rows, data = [], []
    now = now_utc()
    newest = {
        w.name: next((f for f in state.freight.values() if f.origin == w.name), None) for w in pipeline.warehouses
    }
    for stage in pipeline.stages:
        sources = []
        for request in stage.requested_freight:
            parts = (["direct"] if request.sources.direct else []) + list(request.sources.stages)
            join = " & " if request.sources.availability == "All" else " | "
            sources.append(f"{request.origin}<-{join.join(parts)}")
        stage_state = state.stages.get(stage.name)
        record = stage_state.current if stage_state else None
        freight = state.freight.get(record.freight) if record else None
        verification = stage_state.verifications.get(record.freight) if stage_state and record else None
        pending = []
        for request in stage.requested_freight:
            candidate = newest.get(request.origin)
            if candidate and (freight is None or candidate.id != freight.id):
                verdict = eligibility.check(pipeline, state, candidate, stage.name, now)
                pending.append(f"{candidate.alias}: {'eligible' if verdict.eligible else verdict.reason}")
        waiting = next(
            (newest.get(r.origin) for r in stage.requested_freight if newest.get(r.origin) not in (None, freight)),
            None,
        )
        gates_cell, gates_data = gate_summary(stage, state, waiting, now)
        rows.append(
            [
                stage.name,
                ", ".join(sources),
                freight.alias if freight else "-",
                freight.short_id if freight else "-",
                record.at if record else "-",
                record.by if record else "-",
                record.phase if record else "-",
                verification.phase if verification else "-",
                "; ".join(pending) or "-",
                gates_cell,
            ]
        )
        data.append(
            {
                "stage": stage.name,
                "sources": sources,
                "freight": freight.to_dict() if freight else None,
                "promotion": record.to_dict() if record else None,
                "verification": verification.to_dict() if verification else None,
                "newest": pending,
                "gates": gates_data,
            }
        )
    return rows, data


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    state = Engine(pipeline, context.store(pipeline)).state()
    rows, data = stage_rows(pipeline, state)
    if args.output == "table":
        print(f"pipeline {pipeline.name}  (state: {context.store(pipeline).description})")
    emit(
        {"pipeline": pipeline.name, "stages": data},
        args.output,
        rows,
        ["STAGE", "SOURCES", "FREIGHT", "ID", "PROMOTED", "BY", "PHASE", "VERIFIED", "NEWEST", "GATES"],
    )
    return 0
