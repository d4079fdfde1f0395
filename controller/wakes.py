"""Webhook wake-ups between shard members: a small ConfigMap "mailbox" per member.

A webhook reaches one replica (the Service picks it), but with ``--leader-election shard`` the
pipelines it names belong to several. The receiving replica triggers its own and appends a wake
(the repos to re-check, the pipeline/warehouse pairs) to each other owner's mailbox; every member
reads its own mailbox at each election tick (one GET every two seconds) and acts on what is new.
Only senders write a mailbox (conflict-checked, retried), so a member's own Lease renewal is never
disturbed. Entries carry a sequence number and expire after ``WAKE_TTL_S``; a mailbox holds at most
``MAX_WAKES`` of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.kube import configmaps
from freightyard.shared.kube.client import JsonDict, KubeApi
from freightyard.shared.kube.errors import KubeConflict

log = logging.getLogger("freightyard.controller")
WAKES_KEY = "wakes.json"
MAX_WAKES = 50
WAKE_TTL_S = 120.0
MAX_TARGETS = 1000  # per wake: a webhook naming more is cut (those pipelines see it at their interval)
SEND_ATTEMPTS = 4


@dataclass(frozen=True)
class Wake:
    seq: int
    at: str
    repos: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]  # (pipeline, warehouse)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "repos": list(self.repos), "targets": [list(t) for t in self.targets]}

    @classmethod
    def from_dict(cls, data: Any) -> Wake | None:
        try:
            return cls(
                seq=int(data["seq"]),
                at=str(data["at"]),
                repos=tuple(str(r) for r in data.get("repos") or ()),
                targets=tuple((str(p), str(w)) for p, w in data.get("targets") or ()),
            )
        except (KeyError, TypeError, ValueError):
            return None  # a damaged entry wakes nothing; the interval still discovers


def mailbox_name(group: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{group}-wake-{digest}"[:63]


def decode(configmap: JsonDict | None) -> list[Wake]:
    text = ((configmap or {}).get("data") or {}).get(WAKES_KEY) or "[]"
    try:
        items = json.loads(text)
    except ValueError:
        return []
    wakes = [Wake.from_dict(item) for item in items] if isinstance(items, list) else []
    return [w for w in wakes if w is not None]


def appended(wakes: list[Wake], repos: list[str], targets: list[tuple[str, str]], now: dt.datetime) -> list[Wake]:
    """The mailbox after adding one wake: expired entries dropped, at most ``MAX_WAKES`` kept."""
    fresh = [w for w in wakes if _age(w, now) <= WAKE_TTL_S]
    seq = max((w.seq for w in wakes), default=0) + 1
    at = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    wake = Wake(seq, at, tuple(dict.fromkeys(repos))[:100], tuple(dict.fromkeys(targets))[:MAX_TARGETS])
    return [*fresh, wake][-MAX_WAKES:]


def _age(wake: Wake, now: dt.datetime) -> float:
    try:
        at = dt.datetime.strptime(wake.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return WAKE_TTL_S + 1
    return (now - at).total_seconds()


def send(
    api: KubeApi,
    namespace: str,
    name: str,
    *,
    labels: dict[str, str],
    repos: list[str],
    targets: list[tuple[str, str]],
    now: dt.datetime,
) -> bool:
    """Append a wake to mailbox ``name`` (created when missing); False when it could not be written."""
    for _ in range(SEND_ATTEMPTS):
        try:
            current = configmaps.get_configmap(api, namespace, name)
            wakes = appended(decode(current), repos, targets, now)
            data = {WAKES_KEY: json.dumps([w.to_dict() for w in wakes], separators=(",", ":"))}
            if current is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels},
                    "data": data,
                }
                configmaps.create_configmap(api, body)
            else:
                body = {**current, "data": data}
                configmaps.replace_configmap(api, namespace, name, body)
            return True
        except KubeConflict:
            continue  # another sender wrote meanwhile: read again
        except FreightyardError as error:
            log.warning("could not pass a webhook on to shard mailbox %s: %s", name, error)
            return False
    log.warning("could not pass a webhook on to shard mailbox %s: it kept changing", name)
    return False


@dataclass
class Mailbox:
    """One member's own mailbox: ``new()`` returns wakes not seen before (none on the first read,
    when the member is about to discover everything anyway)."""

    name: str
    seen: int | None = None

    def new(self, api: KubeApi, namespace: str) -> list[Wake]:
        try:
            wakes = decode(configmaps.get_configmap(api, namespace, self.name))
        except FreightyardError as error:
            log.debug("shard mailbox %s: %s", self.name, error)
            return []
        top = max((w.seq for w in wakes), default=0)
        if self.seen is None or top < self.seen:  # first look, or the mailbox was recreated
            fresh = [] if self.seen is None else wakes
            self.seen = top
            return fresh
        fresh = [w for w in wakes if w.seq > self.seen]
        self.seen = top
        return fresh
