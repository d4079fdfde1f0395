"""``freightyard render PIPELINE STAGE``: print locally exactly what the CMP would output for a stage."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freightyard.controller.options import add_common, load_context


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("render", help="render a stage's apps with its freight (what the CMP outputs)")
    parser.add_argument("pipeline", help="pipeline name")
    parser.add_argument("stage", help="stage name")
    parser.add_argument("--app", default="", help="only this app (default: every app of the stage)")
    parser.add_argument("--freight", default="", help="freight id, unique id prefix or alias (default: the stage's)")
    parser.add_argument("--no-annotations", action="store_true", help="leave out the freightyard.io/* annotations")
    parser.add_argument("--hash", action="store_true", help="print each app's render hash on stderr")
    add_common(parser, output=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from freightyard.shared.core.state import state_from_document
    from freightyard.shared.render import RenderEnv, render_app
    from freightyard.shared.render.env import find_tools
    from freightyard.shared.render.freight_source import freight_from_state
    from freightyard.shared.render.locate import pick_app

    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    stage = pipeline.stage(args.stage)
    state = state_from_document(context.store(pipeline).read().document)
    freight = freight_from_state(state, stage.name, args.freight)
    apps = [pick_app(stage, args.app, "")] if args.app else list(stage.apps)
    kustomize, helm = find_tools(os.environ)
    env = RenderEnv(kustomize=kustomize, helm=helm, annotate=not args.no_annotations)
    out = sys.stdout.buffer
    for index, app in enumerate(apps):
        rendered = render_app(pipeline, stage.name, app, freight, Path(pipeline.repo_root), env)
        if index:
            out.write(b"---\n")
        out.write(rendered.manifests)
        if args.hash:
            print(f"{app.name}: {rendered.render_hash} ({rendered.tool})", file=sys.stderr)
    out.flush()
    return 0
