"""Helm rendering with ``helm template``: a chart directory in the repo, or the freight's chart;
image values come from the app's ``helm.images`` expressions over the freight."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freightyard.shared.core.errors import RenderError
from freightyard.shared.core.freight import Chart, Freight
from freightyard.shared.core.model import App
from freightyard.shared.credentials import Credentials
from freightyard.shared.process import ProcessError, Request, run
from freightyard.shared.render.env import RenderEnv, remaining

_KUBE_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_RELEASE = re.compile(r"[^a-z0-9-]+")


def kube_version(text: str) -> str:
    """``v1.29.3`` from whatever Argo CD passes (``1.29``, ``v1.29.3+k3s1``, ``1.29.0-eks-…``); "" if none."""
    match = _KUBE_VERSION.search(text or "")
    if not match:
        return ""
    return f"v{match.group(1)}.{match.group(2)}.{match.group(3) or 0}"


def release_name(app: App, env: RenderEnv) -> str:
    """Helm release names allow ``[a-z0-9-]``, at most 53 characters."""
    raw = env.release_name or app.release_name or app.name
    return _RELEASE.sub("-", raw.lower()).strip("-")[:53] or "release"


def set_key(values: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key (``image.tag``; ``\\.`` for a literal dot) in nested ``values``."""
    parts = [p.replace("\0", ".") for p in key.replace("\\.", "\0").split(".")]
    node = values
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def image_values(app: App, freight: Freight, stage: str, pipeline: str) -> dict[str, Any]:
    """The values the app's ``helm.images`` entries evaluate to for ``freight``."""
    if not app.helm_values:
        return {}
    from freightyard.shared.core import expressions  # CEL loads only when a chart maps images

    data = freight.to_dict()
    variables = {"freight": data, "stage": {"name": stage}, "pipeline": {"name": pipeline}}
    functions = expressions.freight_functions(data)
    values: dict[str, Any] = {}
    for item in app.helm_values:
        try:
            value = expressions.render(item.value, variables, functions)
        except expressions.ExpressionError as error:
            raise RenderError(f"app {app.name!r} helm.images {item.key!r}: {error}") from error
        set_key(values, item.key, value)
    return values


@dataclass(frozen=True)
class ChartAccess:
    """Reaching a chart repository: plain HTTP / unverified TLS, and basic-auth credentials."""

    insecure: bool = False
    credentials: Credentials | None = None


def template(
    *,
    chart_dir: Path | None,
    chart: Chart | None,
    app: App,
    values_files: Sequence[Path],
    values: dict[str, Any],
    namespace: str,
    env: RenderEnv,
    deadline: float,
    shown_path: str,
    access: ChartAccess = ChartAccess(),
) -> bytes:
    if not env.helm:
        raise RenderError("helm is not installed: put helm on PATH (or set FREIGHTYARD_HELM)")
    work = Path(tempfile.mkdtemp(prefix="freightyard-helm-"))
    try:
        argv: list[str] = [*env.helm, "template", release_name(app, env)]
        if chart_dir is not None:
            argv.append(str(chart_dir))
        elif chart is not None:
            if chart.repo_url.startswith("oci://"):
                argv += [f"{chart.repo_url.rstrip('/')}/{chart.name}", "--version", chart.version]
                argv += ["--plain-http"] if access.insecure else []
            else:
                argv += [chart.name, "--repo", chart.repo_url, "--version", chart.version]
                argv += ["--insecure-skip-tls-verify"] if access.insecure else []
            if access.credentials is not None:  # argv stays inside the sidecar; every message redacts it
                argv += ["--username", access.credentials.username, "--password", access.credentials.password]
        argv += ["--include-crds"]
        if namespace:
            argv += ["--namespace", namespace]
        version = kube_version(env.kube_version)
        if version:
            argv += ["--kube-version", version]
        for api in env.api_versions:
            argv += ["--api-versions", api]
        for path in values_files:
            argv += ["--values", str(path)]
        if values:
            generated = work / "freightyard-images.yaml"
            generated.write_text(json.dumps(values, sort_keys=True), encoding="utf-8")
            argv += ["--values", str(generated)]
        secrets = (access.credentials.password,) if access.credentials else ()
        request = Request(
            argv=tuple(argv),
            cwd=str(chart_dir) if chart_dir else None,
            env=dict(env.extra_env),
            timeout=remaining(deadline, "helm"),
            secrets=secrets,
        )
        try:
            outcome = run(request)
        except ProcessError as error:
            raise RenderError(f"helm template {shown_path}: {error}") from error
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not outcome.ok:
        raise RenderError(f"helm template {shown_path} failed: {outcome.reason().removeprefix('Error: ')}")
    return outcome.out
