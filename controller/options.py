"""Options every subcommand shares (where pipelines and state live, output format) and their loading."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.pipeline_files import find_pipeline, load_pipelines
from freightyard.shared.settings import DEFAULT_ARGOCD_NAMESPACE, EngineSettings
from freightyard.shared.sources.factory import DefaultSources
from freightyard.shared.sources.git import default_cache_dir
from freightyard.shared.sources.metacache import MetadataCache
from freightyard.shared.stores.base import DocumentStore

if TYPE_CHECKING:
    from freightyard.shared.kube.client import KubeApi

DEFAULT_STATE = "file:.freightyard/freightyard-{pipeline}.yaml"


def add_common(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    parser.add_argument(
        "--pipelines",
        "-f",
        default=os.environ.get("FREIGHTYARD_PIPELINES", "."),
        help="pipeline file or directory of them (default: ., env FREIGHTYARD_PIPELINES)",
    )
    parser.add_argument(
        "--state",
        default=os.environ.get("FREIGHTYARD_STATE", DEFAULT_STATE),
        help="file:PATH (file or directory) or configmap:NS/NAME, or plain 'configmap' for the "
        "pipeline's spec.state (default: file:.freightyard/freightyard-{pipeline}.yaml, "
        "env FREIGHTYARD_STATE)",
    )
    if output:
        parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")


@dataclass
class Context:
    pipelines: list[Pipeline]
    state_spec: str

    def pipeline(self, name: str | None) -> Pipeline:
        if name is None:
            if len(self.pipelines) == 1:
                return self.pipelines[0]
            raise ConfigError(
                [
                    f"several pipelines are defined ({', '.join(p.name for p in self.pipelines)}): "
                    "name one with --pipeline"
                ]
            )
        return find_pipeline(self.pipelines, name)

    def store(self, pipeline: Pipeline) -> DocumentStore:
        from freightyard.shared.stores.factory import store_from_spec

        return store_from_spec(self.state_spec, pipeline)


def load_context(args: argparse.Namespace) -> Context:
    # App paths live in the app's repository at the freight's commit: promotions pin only apps whose
    # path exists there and `render` reads that commit, so the checkout the CLI runs in is not
    # checked here (`validate` checks it when it is the app's repository, and says when it is not).
    return Context(pipelines=load_pipelines(Path(args.pipelines), check_paths=False), state_spec=args.state)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--oci-layout",
        action="append",
        default=[],
        metavar="HOST=DIR",
        help="serve images of HOST from OCI layouts under DIR (repeatable)",
    )
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="talk plain HTTP to this registry (repeatable; test registries)",
    )


def sources_from(args: argparse.Namespace) -> DefaultSources:
    """The artifact sources the ``--oci-layout``/``--insecure-registry`` options describe."""
    roots = {}
    for item in args.oci_layout:
        host, sep, directory = item.partition("=")
        if not sep or not host or not directory:
            raise ConfigError([f"--oci-layout {item!r}: expected HOST=DIR"])
        roots[host] = Path(directory)
    cache_dir = default_cache_dir()
    return DefaultSources(
        cache_dir=cache_dir,
        layout_roots=roots,
        insecure_hosts=frozenset(args.insecure_registry),
        metadata=MetadataCache(cache_dir / "registry-metadata"),  # digests are immutable: reuse across runs
    )


def default_argocd_namespace(environ: Mapping[str, str] | None = None) -> str:
    """``FREIGHTYARD_ARGOCD_NAMESPACE``, else the first of the controller's ``FREIGHTYARD_ARGOCD_NAMESPACES``,
    else ``argocd``: one rule for every command, so the CLI and the controller agree on a stage's Applications."""
    env = os.environ if environ is None else environ
    explicit = env.get("FREIGHTYARD_ARGOCD_NAMESPACE", "").strip()
    listed = [n.strip() for n in env.get("FREIGHTYARD_ARGOCD_NAMESPACES", "").split(",") if n.strip()]
    return explicit or (listed[0] if listed else DEFAULT_ARGOCD_NAMESPACE)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The flags ``EngineSettings`` is built from; every command that promotes or verifies takes them."""
    parser.add_argument(
        "--argocd-namespace",
        default=default_argocd_namespace(),
        help="where the Applications live that update-app patches and verification reads (default: "
        "env FREIGHTYARD_ARGOCD_NAMESPACE, else the first of FREIGHTYARD_ARGOCD_NAMESPACES, else argocd)",
    )
    parser.add_argument(
        "--kube-api",
        "--kube-host",
        dest="kube_api",
        default=os.environ.get("FREIGHTYARD_KUBE_API") or os.environ.get("FREIGHTYARD_KUBE_HOST", ""),
        help="explicit Kubernetes API URL (emulators, development); default: in-cluster config, else "
        "kubeconfig (env FREIGHTYARD_KUBE_API)",
    )


def kube_factory(args: argparse.Namespace) -> Callable[[], KubeApi]:
    """A lazy client for the API ``--kube-api`` names (default: in-cluster, else kubeconfig)."""
    from freightyard.shared.kube.client import KubeSettings, api_factory

    return api_factory(KubeSettings(host=args.kube_api) if args.kube_api else None)


def engine_settings(args: argparse.Namespace, kube: Callable[[], KubeApi] | None = None) -> EngineSettings:
    """The one ``EngineSettings`` of this process, from the flags ``add_engine_options`` added."""
    return EngineSettings(argocd_namespace=args.argocd_namespace, kube_api=kube or kube_factory(args))
