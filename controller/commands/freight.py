"""``freightyard freight list|show``: the freight catalog and where each freight is."""

from __future__ import annotations

import argparse

from freightyard.controller.options import add_common, load_context
from freightyard.controller.output import emit
from freightyard.shared.core.state import find_freight


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("freight", help="list or show freight")
    verbs = parser.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="the catalog, newest first")
    add_common(listing)
    listing.add_argument("--pipeline", "-p")
    listing.set_defaults(run=run_list)
    show = verbs.add_parser("show", help="one freight with all its artifacts")
    add_common(show)
    show.add_argument("--pipeline", "-p")
    show.add_argument("freight", help="id, id prefix or alias")
    show.set_defaults(run=run_show)


def run_list(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    from freightyard.shared.engine.promotion import Engine

    state = Engine(pipeline, context.store(pipeline)).state()
    rows, data = [], []
    for freight in state.freight.values():
        stages = [name for name, s in state.stages.items() if s.current and s.current.freight == freight.id]
        artifacts = [f"{c.repo_url.rsplit('/', 1)[-1]}@{c.id[:7]}" for c in freight.commits]
        artifacts += [f"{i.repo_url.rsplit('/', 1)[-1]}:{i.tag}" for i in freight.images]
        artifacts += [f"{c.name}:{c.version}" for c in freight.charts]
        rows.append(
            [
                freight.short_id,
                freight.alias,
                freight.origin,
                " ".join(artifacts),
                ",".join(stages) or "-",
                freight.created_at,
            ]
        )
        data.append({**freight.to_dict(), "inStages": stages})
    emit(data, args.output, rows, ["ID", "ALIAS", "ORIGIN", "ARTIFACTS", "IN", "CREATED"])
    return 0


def run_show(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    from freightyard.shared.engine.promotion import Engine

    freight = find_freight(Engine(pipeline, context.store(pipeline)).state(), args.freight)
    rows = [["id", freight.id], ["alias", freight.alias], ["origin", freight.origin]]
    rows += [["commit", f"{c.repo_url} {c.id} {c.tag or c.branch} {c.message}"] for c in freight.commits]
    rows += [["image", i.reference] for i in freight.images]
    rows += [["chart", c.canonical()] for c in freight.charts]
    emit(freight.to_dict(), args.output, rows, ["FIELD", "VALUE"])
    return 0
