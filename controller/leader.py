"""Only one replica acts: leader election on a Lease in a cluster, an exclusive file lock locally.

An ``Elector`` is asked ``ensure()`` every ``retry_period``; it returns whether this process may act
now. The Lease elector renews well inside ``lease_duration`` and gives up acting *before* its hold
could have expired (a renewal deadline), so two replicas never act at once even across a network
partition — provided clocks roughly agree. Even if they did, every state write is optimistic: the
worst case is a duplicate, recorded ``Noop`` promotion, never a lost one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from freightyard.controller import wakes
from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.state import now_utc
from freightyard.shared.kube import leases
from freightyard.shared.kube.client import KubeApi

log = logging.getLogger("freightyard.controller")


class Elector(Protocol):
    @property
    def description(self) -> str: ...

    def ensure(self) -> bool:
        """Acquire or renew; True while this process is the leader."""
        ...

    def release(self) -> None:
        """Step down so another replica can take over at once."""
        ...


def default_identity() -> str:
    """``$POD_NAME`` in a cluster (Downward API), else ``host-pid``."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


class Always:
    """No election (a single replica by construction, or tests)."""

    description = "no leader election"

    def ensure(self) -> bool:
        return True

    def release(self) -> None:
        return None


@dataclass
class LeaseElector:
    """A ``coordination.k8s.io`` Lease; ``renew_deadline_s`` < ``duration_s`` bounds how stale our hold may get."""

    api_factory: Callable[[], KubeApi]
    namespace: str
    name: str = "freightyard-controller"
    identity: str = field(default_factory=default_identity)
    duration_s: int = 15
    renew_deadline_s: float = 10.0
    clock: Callable[[], dt.datetime] = now_utc
    monotonic: Callable[[], float] = time.monotonic
    _renewed_at: float | None = None

    @property
    def description(self) -> str:
        return f"Lease {self.namespace}/{self.name} as {self.identity}"

    def ensure(self) -> bool:
        try:
            won = leases.try_acquire(
                self.api_factory(),
                self.namespace,
                self.name,
                self.identity,
                duration_s=self.duration_s,
                now=self.clock(),
            )
        except FreightyardError as error:
            log.warning("leader election: cannot reach the Lease %s/%s: %s", self.namespace, self.name, error)
            won = False
            if self._renewed_at is not None and self.monotonic() - self._renewed_at < self.renew_deadline_s:
                return True  # a blip: our hold is still valid for a while
        if won:
            if self._renewed_at is None:
                log.info("became the leader (%s)", self.description)
            self._renewed_at = self.monotonic()
            return True
        if self._renewed_at is not None:
            log.warning("lost leadership (%s)", self.description)
        self._renewed_at = None
        return False

    def release(self) -> None:
        if self._renewed_at is None:
            return
        self._renewed_at = None
        with contextlib.suppress(FreightyardError):
            leases.release(self.api_factory(), self.namespace, self.name, self.identity)


@dataclass
class FileLockElector:
    """An exclusive ``flock`` on a file: held for the life of the process, released by the kernel on death."""

    path: Path
    _fd: int | None = None

    @property
    def description(self) -> str:
        return f"file lock {self.path}"

    def ensure(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{default_identity()}\n".encode())
        self._fd = fd
        log.info("became the leader (%s)", self.description)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


SHARD_LABEL = "freightyard.io/shard-group"


def rendezvous_owner(pipeline: str, members: list[str]) -> str:
    """The member with the highest hash of (member, pipeline): a member change moves only its share."""
    return max(members, key=lambda m: hashlib.sha256(f"{m}\n{pipeline}".encode()).digest())


@dataclass
class ShardElector:
    """Several active replicas: each holds a Lease of its own; live Leases are the member set.

    ``ensure()`` renews this replica's Lease (``<group>-<hash of identity>``, labelled with the
    group) and lists the group's unexpired Leases. A pipeline belongs to the member the rendezvous
    hash picks. A dead replica's Lease expires after ``duration_s`` and the survivors pick its
    pipelines up at their next ``ensure`` (it stopped acting earlier: ``renew_deadline_s``). When a
    member joins, pipelines that move *from a live member* to this one are held back for
    ``handoff_s`` (the former owner notices at its own next ``ensure`` and stops dispatching them);
    the conflict-checked state write stays the last guard. A replica that cannot renew its Lease
    for ``renew_deadline_s`` owns nothing.
    """

    api_factory: Callable[[], KubeApi]
    namespace: str
    group: str = "freightyard-controller"
    identity: str = field(default_factory=default_identity)
    duration_s: int = 15
    renew_deadline_s: float = 10.0
    handoff_s: float = 4.0
    clock: Callable[[], dt.datetime] = now_utc
    monotonic: Callable[[], float] = time.monotonic
    members: list[str] = field(default_factory=list)
    _renewed_at: float | None = None
    _previous: list[str] = field(default_factory=list)
    _changed_at: float = -1e18
    _mailbox: wakes.Mailbox | None = None

    @property
    def description(self) -> str:
        return f"shard member of {self.namespace}/{self.group} as {self.identity}"

    @property
    def lease_name(self) -> str:
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:12]
        return f"{self.group}-{digest}"[:63]

    def ensure(self) -> bool:
        try:
            api = self.api_factory()
            now = self.clock()
            held = leases.try_acquire(
                api,
                self.namespace,
                self.lease_name,
                self.identity,
                duration_s=self.duration_s,
                now=now,
                labels={SHARD_LABEL: self.group},
            )
            members = leases.live_holders(api, self.namespace, f"{SHARD_LABEL}={self.group}", now) if held else []
        except FreightyardError as error:
            log.warning("shard membership: cannot reach the Leases in %s: %s", self.namespace, error)
            if self._renewed_at is not None and self.monotonic() - self._renewed_at < self.renew_deadline_s:
                return True  # a blip: keep the last member set for a while
            self._renewed_at = None
            self.members = []
            return False
        if not held:
            self._renewed_at = None
            self.members = []
            return False
        if self.identity not in members:
            members = sorted({*members, self.identity})
        if members != self.members:
            log.info("shard members: %s", ", ".join(members))
            # Joining: the others live before us may still be driving what moves here.
            self._previous = self.members or [m for m in members if m != self.identity]
            self._changed_at = self.monotonic()
            self.members = members
        self._renewed_at = self.monotonic()
        return True

    def owns(self, pipeline: str) -> bool:
        """True when this replica drives ``pipeline`` now."""
        if not self.members or rendezvous_owner(pipeline, self.members) != self.identity:
            return False
        if self.monotonic() - self._changed_at >= self.handoff_s:
            return True
        # Just after a change, until the handoff passes: what we owned before, or what a departed
        # member owned (its Lease expired, so it stopped acting before that: renew_deadline_s < duration_s).
        before = rendezvous_owner(pipeline, self._previous) if self._previous else ""
        return before == self.identity or before not in self.members

    def owner_of(self, pipeline: str) -> str:
        """The member that drives ``pipeline`` ("" while this replica knows no members)."""
        return rendezvous_owner(pipeline, self.members) if self.members else ""

    def forward(self, owner: str, repos: list[str], targets: list[tuple[str, str]]) -> bool:
        """Pass a webhook's wake-up on to ``owner``'s mailbox (controller/wakes.py)."""
        name = wakes.mailbox_name(self.group, owner)
        try:
            api = self.api_factory()
        except FreightyardError as error:
            log.warning("could not pass a webhook on to shard member %s: %s", owner, error)
            return False
        labels = {SHARD_LABEL: self.group}
        return wakes.send(api, self.namespace, name, labels=labels, repos=repos, targets=targets, now=self.clock())

    def received(self) -> list[wakes.Wake]:
        """Wake-ups other members passed on to this one since the last call."""
        if not self.members:
            return []
        if self._mailbox is None:
            self._mailbox = wakes.Mailbox(wakes.mailbox_name(self.group, self.identity))
        try:
            api = self.api_factory()
        except FreightyardError:
            return []
        return self._mailbox.new(api, self.namespace)

    def settling(self) -> bool:
        """True while pipelines gained by the last member change are still held back."""
        return self.monotonic() - self._changed_at < self.handoff_s

    def release(self) -> None:
        if self._renewed_at is None:
            return
        self._renewed_at = None
        self.members = []
        with contextlib.suppress(FreightyardError):
            leases.release(self.api_factory(), self.namespace, self.lease_name, self.identity)
