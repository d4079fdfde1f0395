"""``freightyard diff FREIGHT STAGE``: what promoting would change, per app, as a unified diff of the
rendered manifests (the stage's current freight against the candidate) — before anything is pushed."""

from __future__ import annotations

import argparse
import difflib
import tempfile
from pathlib import Path
from typing import Any

from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.output import emit
from freightyard.shared.core.freight import combine
from freightyard.shared.core.state import find_freight
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.render.freight_source import freight_from_state
from freightyard.shared.render.hashing import without_freight_id
from freightyard.shared.render.stage import render_stage
from freightyard.shared.sources.git import GitMirrors, default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("diff", help="what promoting freight into a stage would change, per app")
    add_common(parser)
    add_engine_options(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("freight", help="id, id prefix or alias")
    parser.add_argument("stage")
    parser.set_defaults(run=run)


def unified(old: bytes, new: bytes, old_label: str, new_label: str) -> str:
    """A unified diff of two renders, blind to the freight-id annotation (as the render hash is)."""
    lines = difflib.unified_diff(
        without_freight_id(old).decode("utf-8", "replace").splitlines(keepends=True),
        without_freight_id(new).decode("utf-8", "replace").splitlines(keepends=True),
        old_label,
        new_label,
    )
    return "".join(lines)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    engine = Engine(pipeline, context.store(pipeline), settings=engine_settings(args))
    state = engine.state()
    stage = pipeline.stage(args.stage)
    candidate = find_freight(state, args.freight)
    collection = {**state.collection(stage.name), candidate.origin: candidate}  # replaces only its origin
    combined = combine(collection.values())
    stage_state = state.stage(stage.name)
    mirrors = GitMirrors(default_cache_dir(), credentials=engine.settings.credential_lookup())
    env = engine.settings.tools()
    data: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="freightyard-diff-") as tmp:
        new = render_stage(pipeline, stage, combined, mirrors=mirrors, env=env, workdir=Path(tmp) / "new")
        for app in stage.apps:
            pin = stage_state.apps.get(app.name)
            current = freight_from_state(state, stage.name, "", app.name) if pin else None
            before = b""
            if current is not None:
                workdir = Path(tmp) / f"old-{app.name}"
                old = render_stage(pipeline, stage, current, mirrors=mirrors, env=env, workdir=workdir, apps=[app])
                before = old.apps[app.name].manifests
            label = f"{stage.name}/{app.name}"
            text = unified(
                before,
                new.apps[app.name].manifests,
                f"{label} ({current.alias if current else 'nothing'})",
                f"{label} ({candidate.alias})",
            )
            data.append({"app": app.name, "changed": bool(text), "diff": text})
    if args.output == "table":
        for item in data:
            print(
                item["diff"] if item["changed"] else f"{stage.name}/{item['app']}: unchanged (a no-op here)",
                end="" if item["changed"] else "\n",
            )
        return 0
    emit(data, args.output)
    return 0
