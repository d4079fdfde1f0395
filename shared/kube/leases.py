"""Leader election on a ``coordination.k8s.io/v1`` Lease, with resourceVersion optimistic concurrency.

One controller replica holds the Lease and renews it well inside ``leaseDurationSeconds``; others
take it over only once it has expired. Every write is conditional on the resourceVersion just read,
so two candidates racing for a free or expired Lease cannot both win: the loser gets a 409 and
``False``. Time is passed in (``now``) so callers and tests control the clock.

Leases go through ``CustomObjectsApi`` (same URLs) rather than ``CoordinationV1Api``: the typed API
coerces a dict body into its ``V1Lease`` model and re-serialises ``MicroTime`` fields without the
microseconds (``12:00:00+00:00``) when they are zero, which the API server's ``RFC3339Micro``
parser refuses. The generic API sends our strings untouched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from freightyard.shared.kube.client import JsonDict, KubeApi
from freightyard.shared.kube.errors import Call, KubeConflict, KubeNotFound

GROUP, VERSION, PLURAL = "coordination.k8s.io", "v1", "leases"
RESOURCE = f"{PLURAL}.{GROUP}"


def try_acquire(
    api: KubeApi,
    namespace: str,
    name: str,
    holder: str,
    *,
    duration_s: int,
    now: dt.datetime,
    labels: dict[str, str] | None = None,
) -> bool:
    """Become (or stay) the holder: create if missing, renew if ours, take over if expired; False if lost.

    ``labels`` go on a Lease this call creates (shard members find each other by them).
    """
    lease = get_lease(api, namespace, name)
    try:
        if lease is None:
            _create(api, namespace, name, _spec(holder, duration_s, now, now, transitions=0), labels)
            return True
        spec = lease.get("spec") or {}
        current = spec.get("holderIdentity") or ""
        if current == holder:
            spec = {**spec, "renewTime": format_micro(now), "leaseDurationSeconds": duration_s}
        elif not current or is_expired(spec, now):
            spec = _spec(holder, duration_s, now, now, transitions=int(spec.get("leaseTransitions") or 0) + 1)
        else:
            return False
        _replace(api, lease, spec)
        return True
    except (KubeConflict, KubeNotFound):  # another candidate wrote (or deleted) it since we read it
        return False


def renew(api: KubeApi, namespace: str, name: str, holder: str, now: dt.datetime) -> bool:
    """Extend our hold; False when the Lease is gone, held by someone else, or changed under us."""
    lease = get_lease(api, namespace, name)
    if lease is None or (lease.get("spec") or {}).get("holderIdentity") != holder:
        return False
    try:
        _replace(api, lease, {**lease["spec"], "renewTime": format_micro(now)})
    except (KubeConflict, KubeNotFound):
        return False
    return True


def release(api: KubeApi, namespace: str, name: str, holder: str) -> bool:
    """Give the Lease up so another candidate need not wait for it to expire; False if it was not ours."""
    lease = get_lease(api, namespace, name)
    if lease is None or (lease.get("spec") or {}).get("holderIdentity") != holder:
        return False
    spec = {k: v for k, v in lease["spec"].items() if k not in ("holderIdentity", "acquireTime")}
    try:
        _replace(api, lease, spec)
    except (KubeConflict, KubeNotFound):
        return False
    return True


def get_lease(api: KubeApi, namespace: str, name: str) -> JsonDict | None:
    """The Lease, or None when it does not exist."""
    try:
        return api.call(
            api.custom.get_namespaced_custom_object,
            Call("get", RESOURCE, namespace, name),
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
        )
    except KubeNotFound:
        return None


def is_expired(spec: dict[str, Any], now: dt.datetime) -> bool:
    """True when the holder has not renewed within its own ``leaseDurationSeconds``."""
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return True
    duration = dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))
    return parse_micro(str(renewed)) + duration < now


def format_micro(moment: dt.datetime) -> str:
    """A Kubernetes ``MicroTime``: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro(text: str) -> dt.datetime:
    """Parse a ``MicroTime`` (or a plain RFC 3339 ``Time``) into an aware UTC datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _spec(holder: str, duration_s: int, acquired: dt.datetime, renewed: dt.datetime, transitions: int) -> JsonDict:
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration_s,
        "acquireTime": format_micro(acquired),
        "renewTime": format_micro(renewed),
        "leaseTransitions": transitions,
    }


def live_holders(api: KubeApi, namespace: str, label_selector: str, now: dt.datetime) -> list[str]:
    """Holders of the unexpired Leases matching ``label_selector`` (a shard's member set), sorted."""
    listed = api.call(
        api.custom.list_namespaced_custom_object,
        Call("list", RESOURCE, namespace, ""),
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        label_selector=label_selector,
    )
    holders = set()
    for item in listed.get("items") or []:
        spec = item.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and not is_expired(spec, now):
            holders.add(str(holder))
    return sorted(holders)


def _create(api: KubeApi, namespace: str, name: str, spec: JsonDict, labels: dict[str, str] | None = None) -> JsonDict:
    metadata: JsonDict = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": spec,
    }
    return api.call(
        api.custom.create_namespaced_custom_object,
        Call("create", RESOURCE, namespace, name),
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        body,
    )


def _replace(api: KubeApi, lease: JsonDict, spec: JsonDict) -> JsonDict:
    """Write ``spec`` back, conditional on the resourceVersion in ``lease`` (as read)."""
    metadata = lease.get("metadata") or {}
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    body = {**lease, "spec": spec}
    return api.call(
        api.custom.replace_namespaced_custom_object,
        Call("update", RESOURCE, namespace, name),
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        body,
    )
