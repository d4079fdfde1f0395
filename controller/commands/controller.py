"""``freightyard controller``: discover on interval or webhook, auto-promote, verify, refresh Argo CD.

Settings come from flags, each with an environment variable for Deployments (see ``--help``).
SIGTERM/SIGINT stop the loop after in-flight work; the Lease (or file lock) is released on exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from freightyard.controller.api import Api, Trust
from freightyard.controller.leader import (
    Always,
    Elector,
    FileLockElector,
    LeaseElector,
    ShardElector,
    default_identity,
)
from freightyard.controller.metrics import Metrics
from freightyard.controller.options import (
    DEFAULT_STATE,
    add_engine_options,
    add_source_options,
    engine_settings,
    kube_factory,
    sources_from,
)
from freightyard.controller.pipelines_source import PIPELINE_LABEL, ConfigMapPipelines, DirectoryPipelines, PipelineSet
from freightyard.controller.pipelines_source import PipelineSource as PipelineSourceType
from freightyard.controller.runtime import verify
from freightyard.controller.runtime.loop import Controller, Settings
from freightyard.controller.runtime.reconcile import Reconciler
from freightyard.controller.runtime.refresh import KubeRefresher, NoRefresh, Refresher
from freightyard.controller.runtime.schedule import Scheduler
from freightyard.controller.runtime.sources import SerializedSources
from freightyard.controller.server import HttpServer, parse_listen
from freightyard.controller.webhooks import Secrets
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.engine.sharing import SharedSources
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.kube.configmaps import list_configmaps
from freightyard.shared.sources import limits as host_limits
from freightyard.shared.sources.git import default_cache_dir
from freightyard.shared.stores.factory import store_from_spec

log = logging.getLogger("freightyard.controller")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _number(kind: type[int] | type[float], env: str, *, minimum: float) -> Callable[[str], float]:
    """An argparse type for a number flag whose default comes from ``env``: a bad value is one line
    naming both (argparse converts string defaults with ``type`` too), never a traceback."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} (the flag or env {env})") from None
        if not value >= minimum:  # NaN compares false with everything
            raise argparse.ArgumentTypeError(f"{text!r} is below the minimum {minimum:g} (the flag or env {env})")
        return value

    parse.__name__ = kind.__name__
    return parse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("controller", help="run the promotion loop (discovery, auto-promotion, webhooks)")
    p.add_argument(
        "--pipelines",
        "-f",
        default=_env("FREIGHTYARD_PIPELINES"),
        help="pipeline file or directory (a GitOps checkout), re-read on change (env FREIGHTYARD_PIPELINES)",
    )
    p.add_argument(
        "--pipeline-namespaces",
        default=_env("FREIGHTYARD_PIPELINE_NAMESPACES"),
        help="also read pipelines from ConfigMaps labelled --pipeline-selector in these comma-separated "
        "namespaces (env FREIGHTYARD_PIPELINE_NAMESPACES)",
    )
    p.add_argument(
        "--pipeline-selector",
        default=_env("FREIGHTYARD_PIPELINE_SELECTOR", PIPELINE_LABEL),
        help=f"label selector of pipeline ConfigMaps (default {PIPELINE_LABEL})",
    )
    p.add_argument(
        "--state",
        default=_env("FREIGHTYARD_STATE", DEFAULT_STATE),
        help="file:PATH or configmap[:NS/NAME] (env FREIGHTYARD_STATE)",
    )
    p.add_argument(
        "--listen",
        default=_env("FREIGHTYARD_LISTEN", "127.0.0.1:8080"),
        help="HOST:PORT for /healthz, /readyz, /metrics and /webhooks/<provider>; 'off' disables "
        "(default 127.0.0.1:8080, env FREIGHTYARD_LISTEN)",
    )
    p.add_argument(
        "--webhook-secrets-dir",
        default=_env("FREIGHTYARD_WEBHOOK_SECRETS_DIR"),
        help="directory of secret files named after providers (github, gitlab, ...) or 'secret' "
        "(a mounted Secret); env FREIGHTYARD_WEBHOOK_SECRET[_<PROVIDER>] also work",
    )
    p.add_argument(
        "--leader-election",
        choices=("auto", "lease", "shard", "file", "none"),
        default=_env("FREIGHTYARD_LEADER_ELECTION", "auto"),
        help="auto: a Lease when state is in ConfigMaps, else a file lock beside the state; shard: every "
        "replica is active, holding a Lease of its own (named after --lease-name), pipelines split among "
        "the live ones by rendezvous hashing",
    )
    p.add_argument("--lease-namespace", default=_env("FREIGHTYARD_LEASE_NAMESPACE", _env("POD_NAMESPACE", "argocd")))
    p.add_argument("--lease-name", default=_env("FREIGHTYARD_LEASE_NAME", "freightyard-controller"))
    p.add_argument(
        "--lease-duration",
        type=_number(int, "FREIGHTYARD_LEASE_DURATION", minimum=1),
        default=_env("FREIGHTYARD_LEASE_DURATION", "15"),
        help="seconds (default 15)",
    )
    p.add_argument(
        "--lock-file",
        default=_env("FREIGHTYARD_LOCK_FILE"),
        help="file lock for local mode (default: controller.lock beside a file: state)",
    )
    p.add_argument(
        "--identity",
        default=_env("POD_NAME") or default_identity(),
        help="this replica's name in the Lease (default $POD_NAME or host-pid)",
    )
    p.add_argument(
        "--refresh",
        choices=("auto", "kube", "off"),
        default=_env("FREIGHTYARD_REFRESH", "auto"),
        help="refresh ApplicationSets / hard-refresh CMP Apps after promotions (auto: when state is in ConfigMaps)",
    )
    p.add_argument(
        "--argocd-namespaces",
        default=_env("FREIGHTYARD_ARGOCD_NAMESPACES"),
        help="comma-separated namespaces of ApplicationSets and Applications to refresh; the "
        "--argocd-namespace is always among them (env FREIGHTYARD_ARGOCD_NAMESPACES)",
    )
    add_engine_options(p)
    p.add_argument(
        "--workers", type=_number(int, "FREIGHTYARD_WORKERS", minimum=1), default=_env("FREIGHTYARD_WORKERS", "4")
    )
    p.add_argument(
        "--jitter",
        type=_number(float, "FREIGHTYARD_JITTER", minimum=0),
        default=_env("FREIGHTYARD_JITTER", "0.1"),
        help="± fraction of each warehouse interval (default 0.1)",
    )
    p.add_argument(
        "--interval", type=float, default=None, help="override every warehouse's interval, in seconds (testing)"
    )
    p.add_argument(
        "--reload-interval",
        type=_number(float, "FREIGHTYARD_RELOAD_INTERVAL", minimum=0.1),
        default=_env("FREIGHTYARD_RELOAD_INTERVAL", "5"),
        help="seconds between re-reads of pipeline definitions (default 5)",
    )
    p.add_argument(
        "--verify-poll",
        type=_number(float, "FREIGHTYARD_VERIFY_POLL", minimum=0.1),
        default=_env("FREIGHTYARD_VERIFY_POLL", "5"),
        help="seconds between polls of a running verification (default 5)",
    )
    p.add_argument(
        "--verify-workers",
        type=_number(int, "FREIGHTYARD_VERIFY_WORKERS", minimum=1),
        default=_env("FREIGHTYARD_VERIFY_WORKERS", "8"),
        help="verifications running at once, beside the reconcile workers (default 8)",
    )
    p.add_argument(
        "--ui-proxy-secret-file",
        default=_env("FREIGHTYARD_UI_PROXY_SECRET_FILE"),
        help="file holding the secret Argo CD's proxy extension sends (manifests/ui); enables /api/v1 "
        "(or env FREIGHTYARD_UI_PROXY_SECRET; without either the API answers 403)",
    )
    p.add_argument(
        "--host-concurrency",
        type=_number(int, "FREIGHTYARD_HOST_CONCURRENCY", minimum=1),
        default=_env("FREIGHTYARD_HOST_CONCURRENCY", "8"),
        help="requests in flight per registry/git host (default 8, env FREIGHTYARD_HOST_CONCURRENCY)",
    )
    p.add_argument(
        "--host-rate",
        type=_number(float, "FREIGHTYARD_HOST_RATE", minimum=0),
        default=_env("FREIGHTYARD_HOST_RATE", "50"),
        help="requests per second per host, token bucket; 0 unlimited (default 50, env FREIGHTYARD_HOST_RATE)",
    )
    p.add_argument(
        "--host-burst",
        type=_number(int, "FREIGHTYARD_HOST_BURST", minimum=1),
        default=_env("FREIGHTYARD_HOST_BURST", "100"),
        help="token bucket size per host (default 100, env FREIGHTYARD_HOST_BURST)",
    )
    add_source_options(p)
    p.add_argument("--once", action="store_true", help="one pass over every pipeline, then exit (1 on errors)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    controller, listen = build(args)
    if args.once:
        ok = controller.run_once()
        for line in controller.summary:
            print(line)
        return 0 if ok else 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after in-flight work", signum)
        stop.set()
        controller.trigger([])

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if listen is None:
        controller.run(stop)
        return 0
    with HttpServer(controller.routes(), *listen) as server:
        log.info("controller listening on %s:%d (%s)", listen[0], server.port, controller.elector.description)
        controller.run(stop)
    return 0


def build(args: argparse.Namespace) -> tuple[Controller, tuple[str, int] | None]:
    """The controller the flags describe, and where to listen (None: no HTTP server)."""
    kube = kube_factory(args)
    settings = engine_settings(args, kube)
    uses_configmaps = args.state.strip().startswith("configmap")
    namespaces = tuple(n.strip() for n in args.pipeline_namespaces.split(",") if n.strip())
    sources: list[PipelineSourceType] = []
    if args.pipelines:
        sources.append(DirectoryPipelines(args.pipelines))
    if namespaces:
        sources.append(
            ConfigMapPipelines(namespaces, lambda ns, sel: list_configmaps(kube(), ns, sel), args.pipeline_selector)
        )
    if not sources:
        raise ConfigError(
            [
                "no pipelines: give --pipelines PATH (or FREIGHTYARD_PIPELINES) and/or "
                "--pipeline-namespaces NS (pipelines in labelled ConfigMaps)"
            ]
        )
    metrics = Metrics.create()
    refresher: Refresher = NoRefresh()
    if args.refresh == "kube" or (args.refresh == "auto" and uses_configmaps):
        refresher = KubeRefresher(
            kube,
            refresh_namespaces(args.argocd_namespaces, settings.argocd_namespace),
            on_result=lambda kind, result: metrics.refreshes.labels(kind, result).inc(),
        )
    host_limits.configure(
        host_limits.Limits(
            concurrency=max(1, args.host_concurrency), rate=max(0.0, args.host_rate), burst=max(1, args.host_burst)
        )
    )
    factory = sources_from(args)
    verifications = verify.Inline() if args.once else verify.Background(max(1, args.verify_workers))
    reconciler = Reconciler(
        SharedSources(SerializedSources(factory)),
        metrics,
        refresher,
        verify_poll_s=args.verify_poll,
        verifications=verifications,
    )
    state_spec = args.state

    def engine_for(pipeline: Pipeline) -> Engine:
        return Engine(
            pipeline,
            store_from_spec(state_spec, pipeline, kube),
            cache_dir=default_cache_dir(),
            settings=settings,
        )

    scheduler = Scheduler(time.monotonic, random.Random(), jitter=args.jitter)  # noqa: S311 - jitter, not crypto
    loop_settings = Settings(workers=max(1, args.workers), reload_s=args.reload_interval, interval_s=args.interval)
    controller = Controller(
        PipelineSet(sources),
        engine_for,
        reconciler=reconciler,
        elector=_elector(args, kube, uses_configmaps),
        metrics=metrics,
        scheduler=scheduler,
        secrets=Secrets.load(directory=args.webhook_secrets_dir),
        settings=loop_settings,
    )
    controller.api = Api(
        pipelines=lambda: [e.pipeline for e in list(controller.engines.values())],
        engine_for=lambda pipeline: controller.engines[pipeline.name],
        trust=Trust(proxy_secret=_proxy_secret(args.ui_proxy_secret_file)),
        acted=controller.acted,
    ).handle
    listen = None if args.listen in ("", "off") else _listen(args.listen)
    return controller, listen


def _proxy_secret(path: str) -> str:
    """The proxy extension's shared secret, from a mounted Secret file or the environment; never from argv."""
    if path:
        try:
            secret = Path(path).read_text(encoding="utf-8")[:4096].strip()
        except OSError as error:
            raise ConfigError([f"--ui-proxy-secret-file {path}: {error.strerror}; mount the Secret there"]) from None
        if not secret:
            raise ConfigError([f"--ui-proxy-secret-file {path}: the file is empty; put the shared secret in it"])
        return secret
    return os.environ.get("FREIGHTYARD_UI_PROXY_SECRET", "").strip()


def _listen(text: str) -> tuple[str, int]:
    try:
        return parse_listen(text)
    except ValueError as error:
        raise ConfigError([str(error)]) from error


def refresh_namespaces(listed: str, engine_namespace: str) -> tuple[str, ...]:
    """The namespaces to refresh: the engine's (where promotions patch Applications) first, then the listed."""
    names = [engine_namespace] + [n.strip() for n in listed.split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def _elector(args: argparse.Namespace, kube: Callable[[], KubeApi], uses_configmaps: bool) -> Elector:
    mode = args.leader_election
    if mode == "auto":
        mode = "lease" if uses_configmaps else "file"
    if mode == "none":
        return Always()
    if mode == "shard":
        return ShardElector(
            kube,
            args.lease_namespace,
            args.lease_name,
            args.identity,
            duration_s=args.lease_duration,
            renew_deadline_s=args.lease_duration * 2 / 3,
        )
    if mode == "lease":
        return LeaseElector(
            kube,
            args.lease_namespace,
            args.lease_name,
            args.identity,
            duration_s=args.lease_duration,
            renew_deadline_s=args.lease_duration * 2 / 3,
        )
    return FileLockElector(Path(args.lock_file) if args.lock_file else _lock_beside(args.state))


def _lock_beside(state: str) -> Path:
    kind, _, rest = state.partition(":")
    if kind != "file" or not rest:
        return Path(".freightyard") / "controller.lock"
    path = Path(rest.replace("{pipeline}", "_"))
    directory = path if path.is_dir() else path.parent
    return directory / "controller.lock"
