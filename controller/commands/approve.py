"""``freightyard approve FREIGHT STAGE``: let freight into a stage without upstream verification."""

from __future__ import annotations

import argparse

from freightyard.controller.commands.promote import actor
from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.output import emit
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("approve", help="manually approve freight for a stage")
    add_common(parser)
    add_engine_options(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("freight", help="id, id prefix or alias")
    parser.add_argument("stage")
    parser.add_argument("--by", default=None)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    engine = Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir(), settings=engine_settings(args))
    freight = engine.approve(args.freight, args.stage, actor(args))
    emit(
        {"freight": freight.id, "stage": args.stage, "approved": True},
        args.output,
        [[freight.alias, freight.short_id, args.stage, "approved"]],
        ["FREIGHT", "ID", "STAGE", "RESULT"],
    )
    return 0
