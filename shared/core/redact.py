"""Remove secrets from anything that may reach a log, an error or a ``repr``.

Over-redaction is reversible, a leaked secret is not: credentials in URLs, bearer tokens and
values of environment variables that look secret are all masked.
"""

from __future__ import annotations

import re

MASK = "***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_BEARER = re.compile(r"(?i)(bearer|basic|token)(\s+|=|:\s*)[A-Za-z0-9._~+/=-]{8,}")
_SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|apikey|api_key|credential)")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def redact_env(env: dict[str, str]) -> dict[str, str]:
    return {k: (MASK if _SECRET_NAME.search(k) else redact(v)) for k, v in env.items()}
