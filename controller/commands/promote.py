"""``freightyard promote FREIGHT STAGE``: put freight into a stage, if it is eligible; it replaces only its
own origin's freight there. ``freightyard promote --from STAGE TARGET``: promote the whole collection
verified in STAGE into TARGET as one unit."""

from __future__ import annotations

import argparse
import getpass

from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.output import emit
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("promote", help="promote freight into a stage")
    add_common(parser)
    add_engine_options(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("freight", help="id, id prefix or alias (with --from: the target stage)")
    parser.add_argument("stage", nargs="?")
    parser.add_argument(
        "--from", dest="source", metavar="STAGE", help="promote the collection verified in STAGE as one unit"
    )
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
    if args.source:
        if args.stage:
            raise ConfigError([f"promote --from {args.source} takes one stage (the target), not {args.stage!r}"])
        target = args.freight
        record = engine.promote_from(
            args.source, target, actor(args), override_window=args.override_window, reason=args.reason
        )
    else:
        if not args.stage:
            raise ConfigError(["promote needs FREIGHT STAGE (or --from STAGE TARGET)"])
        target = args.stage
        record = engine.promote(
            args.freight, target, actor(args), hold=True, override_window=args.override_window, reason=args.reason
        )
    catalog = engine.state().freight
    brought = [catalog[i] for i in record.brought.values() if i in catalog] or [catalog[record.freight]]
    emit(
        record.to_dict(),
        args.output,
        [[target, f.origin, f.alias, f.short_id, record.phase, record.message] for f in brought],
        ["STAGE", "ORIGIN", "FREIGHT", "ID", "PHASE", "MESSAGE"],
    )
    return 0
