"""The settings a render runs with (tools, cluster version, limits) and what it returns."""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from freightyard.shared.core.errors import RenderError
from freightyard.shared.render.hashing import render_hash

ANNOTATION_FREIGHT = "freightyard.io/freight"
ANNOTATION_STAGE = "freightyard.io/stage"
ANNOTATION_PIPELINE = "freightyard.io/pipeline"


@dataclass(frozen=True)
class Rendered:
    """A render's output: the YAML stream and its freight-independent hash (``sha256:<hex>``)."""

    manifests: bytes
    tool: str  # "kustomize", "helm" or "plain"

    @functools.cached_property
    def render_hash(self) -> str:
        """Computed when asked: the promotion engine compares it, the CMP never needs it."""
        return render_hash(self.manifests)


@dataclass(frozen=True)
class RenderEnv:
    """How to render; build one per process and pass it down.

    ``kustomize``/``helm`` are argv prefixes (e.g. ``("kubectl", "kustomize")``), found by
    ``find_tools`` when empty. ``timeout`` (seconds) bounds the whole render, well inside Argo CD's
    60 s CMP deadline. ``release_name``/``namespace`` default to the app's name and destination.
    """

    kustomize: tuple[str, ...] = ()
    helm: tuple[str, ...] = ()
    kube_version: str = ""  # passed to helm --kube-version when it looks like a version, else ignored
    api_versions: tuple[str, ...] = ()
    namespace: str = ""  # the Argo CD destination namespace; empty: the app's destination.namespace
    release_name: str = ""  # empty: app.release_name, else app.name
    annotate: bool = True  # add freightyard.io/{freight,stage,pipeline} to every object's metadata
    allow_remote_bases: bool = False  # kustomize remote resources (git/http) are refused unless set
    allow_empty: bool = False  # zero objects is an error unless set (empty output prunes everything in Argo CD)
    timeout: float = 45.0
    extra_env: Mapping[str, str] = field(default_factory=dict, repr=False)  # added to the tools' environment

    def deadline(self) -> float:
        return time.monotonic() + self.timeout


def find_tools(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kustomize argv, helm argv): ``$FREIGHTYARD_KUSTOMIZE``/``$FREIGHTYARD_HELM`` (paths), then
    ``$FREIGHTYARD_TOOLS_DIR/bin``, then ``PATH``; a standalone ``kustomize`` is preferred over
    ``kubectl kustomize``. Missing tools give empty tuples (an error only when needed)."""
    environ = os.environ if environ is None else environ
    dirs = [str(Path(environ["FREIGHTYARD_TOOLS_DIR"]) / "bin")] if environ.get("FREIGHTYARD_TOOLS_DIR") else []
    search = os.pathsep.join([*dirs, environ.get("PATH", os.defpath)])

    def which(name: str) -> str:
        return shutil.which(name, path=search) or ""

    kustomize: tuple[str, ...] = ()
    if environ.get("FREIGHTYARD_KUSTOMIZE"):
        kustomize = (environ["FREIGHTYARD_KUSTOMIZE"],)
    elif which("kustomize"):
        kustomize = (which("kustomize"),)
    elif which("kubectl"):
        kustomize = (which("kubectl"), "kustomize")
    helm_path = environ.get("FREIGHTYARD_HELM") or which("helm")
    return kustomize, ((helm_path,) if helm_path else ())


def remaining(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0.5:
        raise RenderError(f"{what}: render deadline exceeded (raise FREIGHTYARD_TIMEOUT or simplify the app)")
    return left
