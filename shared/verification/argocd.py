"""Argo CD verification, exactly as docs/architecture.md §3.3: request a normal refresh, wait until Argo CD removed
the annotation and ``status.reconciledAt`` is not older than the request, then require the expected
sync revision, ``Synced``, a ``Succeeded`` operation for that revision, and ``Healthy``.

``judge`` is pure (one Application's status → ok / waiting / failed); ``wait_for`` polls.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.kube.applications import REFRESH_ANNOTATION, get_application, list_applications, request_refresh
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.verification.results import CheckResult

FREIGHT_ANNOTATION = "freightyard.io/freight"
Verdict = Literal["ok", "waiting", "failed"]


@dataclass(frozen=True)
class Target:
    """One Application to verify and the revision it must be synced to ("" = whatever it targets)."""

    namespace: str
    name: str
    revision: str = ""


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def judge(app: dict[str, Any], target: Target, since: dt.datetime, freight_id: str) -> tuple[Verdict, str]:
    """Whether ``app`` shows the promotion deployed and healthy, is still on its way, or failed."""
    meta = app.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    status = app.get("status") or {}
    if annotations.get(FREIGHT_ANNOTATION) not in (None, freight_id):
        shown = str(annotations[FREIGHT_ANNOTATION])[:7]
        return "waiting", f"still on freight {shown} (ApplicationSet not regenerated yet)"
    if REFRESH_ANNOTATION in annotations:
        return "waiting", "refresh requested, Argo CD has not reconciled yet"
    reconciled = parse_time(str(status.get("reconciledAt") or ""))
    if reconciled is None or reconciled < since:
        return "waiting", f"last reconciled {status.get('reconciledAt') or 'never'}, before the promotion"
    sync = status.get("sync") or {}
    revision = str(sync.get("revision") or "")
    expected = target.revision or revision
    operation = status.get("operationState") or {}
    phase = str(operation.get("phase") or "")
    synced_to = str((operation.get("syncResult") or {}).get("revision") or "")
    if phase in ("Failed", "Error") and synced_to == expected:
        return "failed", f"sync of {expected[:12]} {phase.lower()}: {str(operation.get('message') or '')[:200]}"
    if revision != expected:
        return "waiting", f"sync revision is {revision[:12] or 'unknown'}, expected {expected[:12]}"
    if sync.get("status") != "Synced":
        return "waiting", f"sync status is {sync.get('status') or 'unknown'}"
    if phase != "Succeeded" or synced_to != expected:
        return "waiting", f"last sync operation is {phase or 'none'} for {synced_to[:12] or 'no revision'}"
    health = str((status.get("health") or {}).get("status") or "Unknown")
    if health != "Healthy":
        return "waiting", f"health is {health}"
    return "ok", f"synced to {expected[:12]} and healthy"


def wait_for(
    api: KubeApi,
    targets: list[Target],
    freight_id: str,
    since: dt.datetime,
    timeout: float,
    *,
    poll: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[CheckResult]:
    """Refresh each target, then poll until every one is ok or failed, or ``timeout`` seconds pass."""
    requested = now().replace(microsecond=0)
    start = max(since, requested)
    for target in targets:
        try:
            request_refresh(api, target.namespace, target.name, "normal")
        except FreightyardError as error:
            return [CheckResult(_name(target), False, f"cannot request a refresh: {error.message}")]
    deadline = clock() + timeout
    pending = {_name(t): t for t in targets}
    results: dict[str, CheckResult] = {}
    last: dict[str, str] = {}
    while True:
        for name, target in list(pending.items()):
            try:
                verdict, why = judge(get_application(api, target.namespace, target.name), target, start, freight_id)
            except FreightyardError as error:
                verdict, why = ("waiting" if error.temporary else "failed"), error.message
            last[name] = why
            if verdict != "waiting":
                results[name] = CheckResult(name, verdict == "ok", why)
                del pending[name]
        if not pending or clock() >= deadline:
            break
        sleep(poll)
    for name in pending:
        results[name] = CheckResult(name, False, f"not verified within {timeout:g}s: {last.get(name, 'no answer')}")
    return [results[_name(t)] for t in targets]


def generated_targets(
    api: KubeApi, *, namespace: str, pipeline: str, stage: str, apps: list[str], revision: str
) -> list[Target]:
    """The generator's Applications of ``stage`` (labels ``freightyard.io/pipeline``/``stage``), limited
    to ``apps`` (by label ``freightyard.io/app`` or the name ``<app>-<stage>``) when given."""
    selector = f"freightyard.io/pipeline={pipeline},freightyard.io/stage={stage}"
    found = []
    for app in list_applications(api, namespace, selector):
        meta = app.get("metadata") or {}
        name = str(meta.get("name", ""))
        label = str((meta.get("labels") or {}).get("freightyard.io/app", ""))
        if apps and label not in apps and not any(name == f"{a}-{stage}" for a in apps):
            continue
        found.append(Target(str(meta.get("namespace") or namespace), name, revision))
    return sorted(found, key=lambda t: t.name)


def _name(target: Target) -> str:
    return f"argocd {target.namespace}/{target.name}"
