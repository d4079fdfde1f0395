"""``freightyard render PIPELINE STAGE``: print locally exactly what the CMP would output for a stage.

Each app renders with its own pin (the collection it is pinned to) from its repository at that
freight's commit, taken from the git mirror cache, never from the working tree the CLI runs in: a stage
behind HEAD renders what its Applications show. ``--local`` renders the working tree instead."""

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
    parser.add_argument("--local", action="store_true", help="render the local working tree, not the freight's commit")
    add_common(parser, output=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import tempfile

    from freightyard.shared.core.errors import NotFoundError
    from freightyard.shared.core.state import state_from_document
    from freightyard.shared.render import RenderEnv, render_app
    from freightyard.shared.render.env import find_tools
    from freightyard.shared.render.freight_source import freight_from_state
    from freightyard.shared.render.locate import pick_app
    from freightyard.shared.render.stage import render_stage
    from freightyard.shared.settings import EngineSettings
    from freightyard.shared.sources.git import GitMirrors, default_cache_dir

    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    stage = pipeline.stage(args.stage)
    state = state_from_document(context.store(pipeline).read().document, pipeline)
    apps = [pick_app(stage, args.app, "")] if args.app else list(stage.apps)
    stage_state = state.stages.get(stage.name)
    if not args.freight and not args.app and stage_state is not None:
        apps = [a for a in apps if a.name in stage_state.apps]  # unpinned apps have no Application yet
    if not apps:
        raise NotFoundError(f"stage {stage.name!r} has no pinned apps yet: promote freight first")
    kustomize, helm = find_tools(os.environ)
    mirrors = GitMirrors(default_cache_dir(), credentials=EngineSettings().credential_lookup())
    out = sys.stdout.buffer
    with tempfile.TemporaryDirectory(prefix="freightyard-render-") as tmp:
        for index, app in enumerate(apps):
            freight = freight_from_state(state, stage.name, args.freight, app.name)
            # the CMP renders with the Application's destination namespace (ARGOCD_APP_NAMESPACE)
            env = RenderEnv(
                kustomize=kustomize, helm=helm, annotate=not args.no_annotations, namespace=app.destination.namespace
            )
            if args.local:
                rendered = render_app(pipeline, stage.name, app, freight, Path(pipeline.repo_root), env)
            else:
                workdir = Path(tmp) / str(index)
                rendered = render_stage(
                    pipeline, stage, freight, mirrors=mirrors, env=env, workdir=workdir, apps=[app]
                ).apps[app.name]
            if index:
                out.write(b"---\n")
            out.write(rendered.manifests)
            if args.hash:
                print(f"{app.name}: {rendered.render_hash} ({rendered.tool})", file=sys.stderr)
    out.flush()
    return 0
