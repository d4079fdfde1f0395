"""``freightyard approve FREIGHT STAGE --by ID [--group G ...] --reason TEXT``: record an approval.

For a stage with an ``approval:`` rule it is one of the N approvals the stage needs (on top of its sources);
for a stage without one it lets freight in without upstream verification. Who approves and their groups come
from ``--by/--group`` here; the UI API passes the identity Argo CD's proxy headers carry.
"""

from __future__ import annotations

import argparse

from freightyard.controller.commands.promote import actor
from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.output import emit
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("approve", help="approve freight for a stage (who, groups, why)")
    add_common(parser)
    add_engine_options(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("freight", help="id, id prefix or alias")
    parser.add_argument("stage")
    parser.add_argument("--by", default=None, help="who approves (default: the current user)")
    parser.add_argument(
        "--group", action="append", default=[], dest="groups", help="a group the approver belongs to (repeatable)"
    )
    parser.add_argument("--reason", required=True, help="why (recorded with the approval)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    by = actor(args)
    engine = Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir(), settings=engine_settings(args))
    freight = engine.approve(args.freight, args.stage, by, groups=tuple(args.groups), reason=args.reason)
    emit(
        {"freight": freight.id, "stage": args.stage, "approved": True, "by": by, "groups": list(args.groups)},
        args.output,
        [[freight.alias, freight.short_id, args.stage, by, ",".join(args.groups) or "-", "approved"]],
        ["FREIGHT", "ID", "STAGE", "BY", "GROUPS", "RESULT"],
    )
    return 0
