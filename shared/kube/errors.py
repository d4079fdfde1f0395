"""Map the Kubernetes client's exceptions onto Freightyard's tree, so vendor errors never leak.

    KubeError                       any failed Kubernetes API call (``status`` is the HTTP status, 0: none)
    ├── KubeNotFound                404: the object (or its namespace) does not exist
    ├── KubeConflict                409: someone else wrote first, or it already exists; re-read and retry
    ├── KubeForbidden               401/403: credentials rejected or RBAC refused; retrying will not help
    ├── KubeInvalid                 other 4xx: the request itself is wrong (a bug or a bad setting)
    └── KubeUnavailable             5xx, 429, timeouts, connection errors: temporary, retry later

The store-related ones also subclass ``StoreError`` and its children, so a ``ConfigMapStore`` needs
no translation of its own. Response bodies are reduced to a K8s ``Status`` message or 256 characters;
headers (which may carry tokens) are never kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from freightyard.shared.core.errors import FreightyardError, NotFoundError, StoreConflict, StoreError, StoreForbidden

MAX_BODY_CHARS = 256  # "who knows which sensitive information can be dumped" (kopf)


class KubeError(FreightyardError):
    """A Kubernetes API call failed; ``status`` is the HTTP status (0 when no response came)."""

    status: int = 0

    def __init__(self, message: str, *, status: int = 0, temporary: bool | None = None) -> None:
        super().__init__(message, temporary=temporary)
        self.status = status


class KubeNotFound(KubeError, NotFoundError):
    pass


class KubeConflict(KubeError, StoreConflict):
    pass


class KubeForbidden(KubeError, StoreForbidden):
    pass


class KubeInvalid(KubeError, StoreError):
    temporary = False


class KubeUnavailable(KubeError, StoreError):
    temporary = True


@dataclass(frozen=True)
class Call:
    """What was being done, for messages: ``update configmaps argocd/freightyard-guestbook``."""

    verb: str  # get, list, create, update, patch
    resource: str  # plural, e.g. "configmaps", "applications.argoproj.io"
    namespace: str
    name: str = ""

    def __str__(self) -> str:
        target = f"{self.namespace}/{self.name}" if self.name else f"in namespace {self.namespace}"
        return f"{self.verb} {self.resource} {target}"


def body_message(body: Any) -> str:
    """The ``message`` of a K8s ``Status`` body; any other body cut to 256 characters."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return str(parsed.get("message") or parsed.get("reason") or "")[:1024]
    text = " ".join(text.split())
    return text[:MAX_BODY_CHARS] + ("…" if len(text) > MAX_BODY_CHARS else "")


def translate(exc: BaseException, call: Call) -> KubeError | None:
    """Our exception for a client/transport exception, or None when it is not one (a bug)."""
    from kubernetes.client.exceptions import ApiException  # lazy: keeps importing this module cheap
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        detail = body_message(exc.body) or str(exc.reason or "")
        return from_status(status, detail, call)
    if isinstance(exc, Urllib3Error | ConnectionError | TimeoutError):
        reason = body_message(str(exc))
        return KubeUnavailable(
            f"cannot {call}: Kubernetes API unreachable ({type(exc).__name__}: {reason}); retrying later may help"
        )
    return None


def from_status(status: int, detail: str, call: Call) -> KubeError:
    """Build the exception for an HTTP error status while doing ``call``."""
    suffix = f": {detail}" if detail else ""
    if status == 404:
        return KubeNotFound(f"cannot {call}: not found{suffix}", status=status)
    if status == 409:
        return KubeConflict(f"cannot {call}: conflict (another writer got there first){suffix}", status=status)
    if status == 401:
        return KubeForbidden(
            f"cannot {call}: the API server rejected our credentials (401){suffix}; "
            "check the ServiceAccount token or kubeconfig",
            status=status,
        )
    if status == 403:
        return KubeForbidden(
            f"cannot {call}: forbidden (403){suffix}; grant the freightyard ServiceAccount "
            f"{rbac_verbs(call.verb)} on {call.resource} in {call.namespace} (Role + RoleBinding)",
            status=status,
        )
    if status == 429 or status >= 500 or status == 0:
        return KubeUnavailable(
            f"cannot {call}: Kubernetes API error {status or 'without status'}{suffix}; retrying later may help",
            status=status,
        )
    return KubeInvalid(f"cannot {call}: rejected with {status}{suffix}", status=status)


def rbac_verbs(verb: str) -> str:
    """The RBAC verbs to grant for ``verb``: reads need ``get``, writes need ``get`` too (we read first)."""
    return "get" if verb == "get" else f"get/{verb}"


def reraise(exc: BaseException, call: Call) -> NoReturn:
    """Raise our translation of ``exc`` chained from it, or ``exc`` itself when it is a bug."""
    ours = translate(exc, call)
    if ours is None:
        raise exc
    raise ours from exc
