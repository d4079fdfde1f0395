"""``freightyard validate``: check pipeline files and report every problem with file:line."""

from __future__ import annotations

import argparse

from freightyard.controller.options import add_common, load_context


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("validate", help="check pipeline files")
    add_common(parser, output=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    for pipeline in context.pipelines:
        print(
            f"{pipeline.source_file}: pipeline {pipeline.name}: {len(pipeline.warehouses)} warehouse(s), "
            f"{len(pipeline.stages)} stage(s): ok"
        )
    return 0
