"""``freightyard discover``: ask each warehouse's sources for new artifacts and add the freight."""

from __future__ import annotations

import argparse
from typing import Any

from freightyard.controller.options import Context, add_common, add_source_options, load_context, sources_from
from freightyard.controller.output import emit
from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Chart, Commit, Image
from freightyard.shared.engine.discovery import discover, discovered_artifacts
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.base import SourceFactory
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("discover", help="discover new artifacts and make freight")
    add_common(parser)
    parser.add_argument("--pipeline", "-p", help="only this pipeline")
    parser.add_argument("--warehouse", "-w", help="only this warehouse")
    parser.add_argument(
        "--artifacts",
        action="store_true",
        help="only list what each subscription offers (up to its discoveryLimit); make no freight",
    )
    add_source_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    sources = sources_from(args)
    if args.artifacts:
        return list_artifacts(args, context, sources)
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
            rows.append(
                [
                    pipeline.name,
                    warehouse.name,
                    found.freight.short_id,
                    found.freight.alias,
                    ("new freight" if new else "no change") + (f" ({found.waiting})" if found.waiting else ""),
                ]
            )
            data.append(
                {
                    "pipeline": pipeline.name,
                    "warehouse": warehouse.name,
                    "new": new,
                    "freight": found.freight.to_dict(),
                    **({"waiting": found.waiting} if found.waiting else {}),
                }
            )
    emit(data, args.output, rows, ["PIPELINE", "WAREHOUSE", "FREIGHT", "ALIAS", "RESULT"])
    return 1 if failed else 0


def list_artifacts(args: argparse.Namespace, context: Context, sources: SourceFactory) -> int:
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []
    pipelines = [context.pipeline(args.pipeline)] if args.pipeline else context.pipelines
    for pipeline in pipelines:
        for warehouse in pipeline.warehouses:
            if args.warehouse and warehouse.name != args.warehouse:
                continue
            for found in discovered_artifacts(warehouse, sources):
                for artifact in found.artifacts:
                    version, identity = _describe(artifact)
                    created = artifact.created_at if isinstance(artifact, Image) else ""
                    rows.append([pipeline.name, warehouse.name, found.kind, found.repo_url, version, identity, created])
                data.append(
                    {
                        "pipeline": pipeline.name,
                        "warehouse": warehouse.name,
                        "kind": found.kind,
                        "repoURL": found.repo_url,
                        "artifacts": [a.to_dict() for a in found.artifacts],
                    }
                )
    emit(data, args.output, rows, ["PIPELINE", "WAREHOUSE", "KIND", "REPO", "VERSION", "ID", "CREATED"])
    return 0


def _describe(artifact: Commit | Image | Chart) -> tuple[str, str]:
    if isinstance(artifact, Commit):
        return artifact.tag or artifact.message[:50], artifact.id[:12]
    if isinstance(artifact, Image):
        return artifact.tag, artifact.digest[:19]
    return artifact.version, ""
