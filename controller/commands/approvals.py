"""``freightyard approvals [FREIGHT] [--stage S]``: who approved which freight for which stage, in which
groups, when and why; and whether a stage's approval rule counts them."""

from __future__ import annotations

import argparse
from typing import Any

from freightyard.controller.options import add_common, load_context
from freightyard.controller.output import emit
from freightyard.shared.core import approvals
from freightyard.shared.core.state import find_freight
from freightyard.shared.engine.promotion import Engine


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("approvals", help="list approvals (who, groups, when, reason)")
    add_common(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("freight", nargs="?", help="only this freight (id, id prefix or alias)")
    parser.add_argument("--stage", "-s", help="only this stage")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    state = Engine(pipeline, context.store(pipeline)).state()
    only = find_freight(state, args.freight).id if args.freight else ""
    stages = [pipeline.stage(args.stage)] if args.stage else list(pipeline.stages)
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []
    for stage in stages:
        stage_state = state.stages.get(stage.name)
        for freight_id, given in (stage_state.gates.approvals if stage_state else {}).items():
            if only and freight_id != only:
                continue
            freight = state.freight.get(freight_id)
            tally = approvals.tally(stage.approval, given) if stage.approval else None
            entry: dict[str, Any] = {
                "stage": stage.name,
                "freight": freight_id,
                "approvals": [a.to_dict() for a in given],
            }
            if tally is not None:
                entry.update(required=tally.required, counted=len(tally.counted), met=tally.met)
            data.append(entry)
            for approval in given:
                rows.append(
                    [
                        stage.name,
                        freight.alias if freight else freight_id[:7],
                        approval.by,
                        ",".join(approval.groups) or "-",
                        approval.at,
                        approval.reason or "-",
                        tally.fraction() if tally else "bypass",
                    ]
                )
    emit(
        {"pipeline": pipeline.name, "approvals": data},
        args.output,
        rows,
        ["STAGE", "FREIGHT", "BY", "GROUPS", "AT", "REASON", "RULE"],
    )
    return 0
