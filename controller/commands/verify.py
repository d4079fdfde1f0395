"""``freightyard verify STAGE [FREIGHT]``: run a stage's checks on its current freight and record the result."""

from __future__ import annotations

import argparse
import os

from freightyard.controller.options import add_common, load_context
from freightyard.controller.output import emit
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("verify", help="verify the freight a stage holds (Argo CD, commands, HTTP)")
    add_common(parser)
    parser.add_argument("--pipeline", "-p")
    parser.add_argument("stage")
    parser.add_argument("freight", nargs="?", help="must be the stage's current freight (default: it)")
    parser.add_argument(
        "--argocd-namespace",
        default=os.environ.get("FREIGHTYARD_ARGOCD_NAMESPACE", "argocd"),
        help="where the Applications live (default: argocd, env FREIGHTYARD_ARGOCD_NAMESPACE)",
    )
    parser.add_argument(
        "--kube-host",
        default=os.environ.get("FREIGHTYARD_KUBE_HOST"),
        help="Kubernetes API URL (default: in-cluster config, else kubeconfig)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from freightyard.shared.kube.client import KubeSettings, api_factory
    from freightyard.shared.verification.runner import SKIPPED, SUCCEEDED, verify

    context = load_context(args)
    pipeline = context.pipeline(args.pipeline)
    settings = {
        "argocd_namespace": args.argocd_namespace,
        "kube_api": api_factory(KubeSettings(host=args.kube_host) if args.kube_host else None),
    }
    engine = Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir(), settings=settings)
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
