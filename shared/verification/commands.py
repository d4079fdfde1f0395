"""Command checks: run an argv (no shell) with a timeout and the freight's facts in the environment."""

from __future__ import annotations

from typing import Any

from freightyard.shared.core.freight import Freight
from freightyard.shared.core.params import image_keys
from freightyard.shared.core.redact import redact
from freightyard.shared.gitops.messages import evaluate
from freightyard.shared.process import ProcessError, Request, run
from freightyard.shared.verification.results import CheckResult


def freight_env(freight: Freight, pipeline: str, stage: str) -> dict[str, str]:
    """``FREIGHT_ID``, ``FREIGHT_ALIAS``, ``FREIGHT_JSON``, ``PIPELINE``, ``STAGE``, ``COMMIT_ID`` and
    ``IMAGE_<KEY>`` (``repo:tag@digest``; key as in the generator's parameters, upper-cased)."""
    env = {
        "FREIGHT_ID": freight.id,
        "FREIGHT_ALIAS": freight.alias,
        "FREIGHT_JSON": freight.to_json(),
        "PIPELINE": pipeline,
        "STAGE": stage,
        "COMMIT_ID": freight.commits[0].id if freight.commits else "",
    }
    for key, image in image_keys(freight.images).items():
        env["IMAGE_" + "".join(c if c.isalnum() else "_" for c in key.upper())] = image.reference
    return env


def run_command(check: dict[str, Any], freight: Freight, pipeline: str, stage: str) -> CheckResult:
    argv = tuple(evaluate(str(a), freight, stage, pipeline, "verification command") for a in check["command"])
    name = f"command {check.get('name') or argv[0]}"
    extra = {
        str(k): evaluate(str(v), freight, stage, pipeline, f"verification env {k}")
        for k, v in (check.get("env") or {}).items()
    }
    request = Request(
        argv, env={**freight_env(freight, pipeline, stage), **extra}, timeout=float(check.get("timeout") or 60)
    )
    try:
        outcome = run(request)
    except ProcessError as error:
        return CheckResult(name, False, redact(str(error)))
    if outcome.ok:
        return CheckResult(name, True, f"passed in {outcome.elapsed:.1f}s")
    output = outcome.reason() if outcome.err.strip() else redact(" | ".join(outcome.text().split("\n")[-3:]))[:400]
    return CheckResult(name, False, f"exit code {outcome.code}: {output}")
