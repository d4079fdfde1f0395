"""``freightyard apps``: the Applications the ApplicationSet generator produces for a pipeline now: the same
parameter sets, byte for byte (``-o json``), from the same pins."""

from __future__ import annotations

import argparse
from pathlib import Path

from freightyard.controller.options import add_common, load_context
from freightyard.controller.output import emit
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.params import parameter_sets
from freightyard.shared.engine.promotion import Engine


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("apps", help="what the ApplicationSet generator answers for a pipeline")
    add_common(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("--stage", action="append", default=None, help="only this stage (repeatable)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    state = Engine(pipeline, context.store(pipeline)).state()
    sets = parameter_sets(pipeline, state, stages=args.stage, pipeline_file=_relative_file(pipeline))
    rows = [
        [
            p["stage"],
            p["app"],
            p["path"],
            p["targetRevision"][:12],
            p["freight"]["alias"],
            p["destination"]["namespace"],
        ]
        for p in sets
    ]
    emit(sets, args.output, rows, ["STAGE", "APP", "PATH", "REVISION", "FREIGHT", "NAMESPACE"])
    return 0


def _relative_file(pipeline: Pipeline) -> str:
    """``pipelineFile`` as the generator computes it: the file relative to its repo root ("" outside it)."""
    try:
        return Path(pipeline.source_file).resolve().relative_to(pipeline.repo_root).as_posix()
    except ValueError:
        return ""
