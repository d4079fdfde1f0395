"""HTTP checks: one request, an expected status and optionally a string the body must contain."""

from __future__ import annotations

from typing import Any

import requests

from freightyard.shared.core.freight import Freight
from freightyard.shared.core.redact import redact
from freightyard.shared.gitops.messages import evaluate
from freightyard.shared.verification.results import CheckResult

MAX_BODY = 1 << 20


def run_http(
    check: dict[str, Any], freight: Freight, pipeline: str, stage: str, session: requests.Session | None = None
) -> CheckResult:
    url = evaluate(str(check["url"]), freight, stage, pipeline, "verification http url")
    name = f"http {check.get('name') or redact(url)}"
    method = str(check.get("method") or "GET")
    try:
        response = (session or requests).request(
            method, url, timeout=float(check.get("timeout") or 10), allow_redirects=False
        )
    except requests.RequestException as error:
        return CheckResult(name, False, f"{method} {redact(url)}: {type(error).__name__}")
    expected = int(check.get("expectedStatus") or 200)
    if response.status_code != expected:
        return CheckResult(name, False, f"{method} {redact(url)} answered {response.status_code}, expected {expected}")
    needle = str(check.get("bodyContains") or "")
    if needle and needle not in response.text[:MAX_BODY]:
        return CheckResult(name, False, f"{method} {redact(url)}: body does not contain {needle!r}")
    return CheckResult(name, True, f"{method} answered {response.status_code}")
