"""``freightyard promote FREIGHT STAGE``: put freight into a stage, if it is eligible."""

from __future__ import annotations

import argparse
import getpass

from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.output import emit
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("promote", help="promote freight into a stage")
    add_common(parser)
    add_engine_options(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("freight", help="id, id prefix or alias")
    parser.add_argument("stage")
    parser.add_argument("--by", default=None, help="who promotes (default: the current user)")
    parser.add_argument(
        "--override-window", action="store_true", help="promote inside a closed promotion window (needs --reason)"
    )
    parser.add_argument("--reason", default="", help="why the window is overridden (recorded)")
    parser.set_defaults(run=run)


def actor(args: argparse.Namespace) -> str:
    return str(args.by or f"user:{getpass.getuser()}")


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    engine = Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir(), settings=engine_settings(args))
    record = engine.promote(
        args.freight, args.stage, actor(args), hold=True, override_window=args.override_window, reason=args.reason
    )
    freight = engine.state().freight[record.freight]
    emit(
        record.to_dict(),
        args.output,
        [[args.stage, freight.alias, freight.short_id, record.phase, record.message]],
        ["STAGE", "FREIGHT", "ID", "PHASE", "MESSAGE"],
    )
    return 0
