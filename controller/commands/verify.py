"""``freightyard verify STAGE [FREIGHT]``: run a stage's checks on its current freight and record the result."""

from __future__ import annotations

import argparse

from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.output import emit
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("verify", help="verify the freight a stage holds (Argo CD, commands, HTTP)")
    add_common(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("stage")
    parser.add_argument("freight", nargs="?", help="must be the stage's current freight (default: it)")
    add_engine_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from freightyard.shared.verification.runner import SKIPPED, SUCCEEDED, verify

    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    engine = Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir(), settings=engine_settings(args))
    outcome = verify(engine, args.stage, args.freight)
    rows = [[args.stage, outcome.freight.alias, outcome.freight.short_id, outcome.phase, outcome.message]]
    rows += [["", "", "", "ok" if c.ok else "FAILED", c.line()] for c in outcome.checks]
    emit(
        {
            "stage": args.stage,
            "freight": outcome.freight.id,
            "phase": outcome.phase,
            "message": outcome.message,
            "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in outcome.checks],
        },
        args.output,
        rows,
        ["STAGE", "FREIGHT", "ID", "PHASE", "MESSAGE"],
    )
    return 0 if outcome.phase in (SUCCEEDED, SKIPPED) else 1
