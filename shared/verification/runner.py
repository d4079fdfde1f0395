"""Verify the freight a stage holds and record the outcome (which starts its soak time).

Argo CD checks run first (they wait for the sync); command and HTTP checks then run once. A Noop
promotion with ``skipWhenUnchanged`` is not verified again: it already counts as verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from freightyard.shared.core.errors import FreightyardError, NotFoundError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.state import NOOP, PromotionRecord, find_freight, parse_time
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.verification import argocd
from freightyard.shared.verification.commands import run_command
from freightyard.shared.verification.http import run_http
from freightyard.shared.verification.results import CheckResult

SUCCEEDED, FAILED, SKIPPED = "Succeeded", "Failed", "Skipped"


@dataclass(frozen=True)
class Outcome:
    stage: str
    freight: Freight
    phase: str
    message: str
    checks: tuple[CheckResult, ...] = field(default=())


def verify(
    engine: Engine,
    stage_name: str,
    freight_ref: str | None = None,
    *,
    poll: float = 2.0,
    sleep: Callable[[float], None] | None = None,
) -> Outcome:
    """Run the stage's checks against its current freight (``freight_ref`` must name it) and record them."""
    stage = engine.pipeline.stage(stage_name)
    state = engine.state()
    record = state.stage(stage_name).current
    if record is None:
        raise NotFoundError(f"stage {stage_name} holds no freight yet; promote some first")
    freight = state.current_freight(stage_name) or state.freight[record.freight]  # the whole collection
    members = set(state.stage(stage_name).collection_ids().values()) | {freight.id}
    if freight_ref is not None and find_freight(state, freight_ref).id not in members:
        raise NotFoundError(
            f"stage {stage_name} holds {freight.alias} ({freight.short_id}), not {freight_ref}: "
            "only the current freight can be verified"
        )
    verification = stage.verification
    if verification is None or verification.empty:
        return _done(engine, stage_name, freight, SUCCEEDED, "stage has no verification")
    mark = state.stage(stage_name).verifications.get(freight.id)
    if record.phase == NOOP and verification.skip_when_unchanged and mark is not None and mark.phase == SKIPPED:
        return _done(engine, stage_name, freight, SKIPPED, "no-op promotion: nothing changed")
    checks: list[CheckResult] = []
    if verification.argocd_healthy:
        checks += _argocd(
            engine, stage_name, record, freight, timeout=verification.timeout_seconds, poll=poll, sleep=sleep
        )
    if all(c.ok for c in checks):
        checks += [run_command(c, freight, engine.pipeline.name, stage_name) for c in verification.commands]
        checks += [run_http(h, freight, engine.pipeline.name, stage_name) for h in verification.http]
    failed = [c for c in checks if not c.ok]
    if failed:
        return _done(engine, stage_name, freight, FAILED, "; ".join(c.line() for c in failed), checks=checks)
    return _done(engine, stage_name, freight, SUCCEEDED, f"{len(checks)} check(s) passed", checks=checks)


def _done(
    engine: Engine, stage: str, freight: Freight, phase: str, message: str, *, checks: list[CheckResult] | None = None
) -> Outcome:
    failing = next((c.name for c in checks or () if not c.ok), "")
    engine.record_verification(stage, freight.id, phase, message[:1000], check=failing)
    return Outcome(stage, freight, phase, message, tuple(checks or ()))


def _argocd(
    engine: Engine,
    stage_name: str,
    record: PromotionRecord,
    freight: Freight,
    *,
    timeout: float,
    poll: float,
    sleep: Callable[[float], None] | None,
) -> list[CheckResult]:
    namespace = engine.settings.argocd_namespace
    try:
        api = engine.settings.kube()
        targets = _targets(api, engine, stage_name, record, freight=freight, namespace=namespace)
    except FreightyardError as error:
        return [CheckResult("argocd", False, error.message)]
    if not targets:
        where = f"{engine.pipeline.name}/{stage_name} in {namespace}"
        return [
            CheckResult(
                "argocd",
                False,
                f"no Argo CD Applications found for {where} (labels freightyard.io/pipeline and freightyard.io/stage)",
            )
        ]
    extra: dict[str, Any] = {"poll": poll}
    if sleep is not None:
        extra["sleep"] = sleep
    return argocd.wait_for(api, targets, freight.id, parse_time(record.at), timeout, **extra)


def _targets(
    api: KubeApi, engine: Engine, stage_name: str, record: PromotionRecord, *, freight: Freight, namespace: str
) -> list[argocd.Target]:
    stage = engine.pipeline.stage(stage_name)
    if stage.promotion.mechanism == "update-app":
        return [
            argocd.Target(str(a.get("namespace") or namespace), str(a["name"]), record.revision)
            for a in stage.promotion.options.get("applications") or []
        ]
    revision = record.revision or _freight_revision(freight)
    return argocd.generated_targets(
        api,
        namespace=namespace,
        pipeline=engine.pipeline.name,
        stage=stage_name,
        apps=list(record.changed_apps),
        revision=revision,
    )


def _freight_revision(freight: Freight) -> str:
    return freight.commits[0].id if len(freight.commits) == 1 else ""
