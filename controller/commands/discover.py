"""``freightyard discover``: ask each warehouse's sources for new artifacts and add the freight."""

from __future__ import annotations

import argparse
from typing import Any

from controller.options import add_common, add_source_options, load_context, sources_from
from controller.output import emit
from shared.discovery import discover
from shared.errors import SourceError
from shared.promotion import Engine
from shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("discover", help="discover new artifacts and make freight")
    add_common(parser)
    parser.add_argument("--pipeline", "-p", help="only this pipeline")
    parser.add_argument("--warehouse", "-w", help="only this warehouse")
    add_source_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    sources = sources_from(args)
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []
    failed = 0
    pipelines = [context.pipeline(args.pipeline)] if args.pipeline else context.pipelines
    for pipeline in pipelines:
        engine = Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir())
        for warehouse in pipeline.warehouses:
            if args.warehouse and warehouse.name != args.warehouse:
                continue
            try:
                found = discover(warehouse, sources)
            except SourceError as error:
                failed += 1
                rows.append([pipeline.name, warehouse.name, "-", "-", f"error: {error.message}"])
                data.append({"pipeline": pipeline.name, "warehouse": warehouse.name, "error": error.message})
                continue
            if found.freight is None:
                rows.append([pipeline.name, warehouse.name, "-", "-", found.reason])
                data.append({"pipeline": pipeline.name, "warehouse": warehouse.name, "reason": found.reason})
                continue
            new = engine.add_freight(found.freight)
            rows.append([pipeline.name, warehouse.name, found.freight.short_id, found.freight.alias,
                         "new freight" if new else "no change"])
            data.append({"pipeline": pipeline.name, "warehouse": warehouse.name, "new": new,
                         "freight": found.freight.to_dict()})
    emit(data, args.output, rows, ["PIPELINE", "WAREHOUSE", "FREIGHT", "ALIAS", "RESULT"])
    return 1 if failed else 0
