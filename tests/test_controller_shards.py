"""Sharding over Leases: three controller processes split the pipelines; kill one, the others take its share.

Real parts: the kmock Kubernetes emulator for the Leases, the smart-HTTP git server, three
``freightyard controller --leader-election shard`` subprocesses sharing one state directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from freightyard.controller.leader import ShardElector, rendezvous_owner
from freightyard.shared.core.state import State, state_from_document
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.stores.file import FileStore
from tests.servers._proc import free_port
from tests.servers.git_http import GitHttpServer, commit_files
from tests.servers.kube_emulator import KubeEmulator

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_SECRET = "shard-webhook-secret"
PIPELINES = 24
PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: {name}}}
spec:
  warehouses:
  - name: main
    interval: 1m
    subscriptions:
    - git: {{repoURL: "{git}", branch: main}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    autoPromotion: true
  - name: staging
    requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    autoPromotion: true
"""


def test_rendezvous_moves_only_the_share_of_the_changed_member() -> None:
    names = [f"p{i}" for i in range(300)]
    three = {n: rendezvous_owner(n, ["a", "b", "c"]) for n in names}
    two = {n: rendezvous_owner(n, ["a", "b"]) for n in names}
    assert {three[n] for n in names} == {"a", "b", "c"}
    assert all(two[n] == three[n] for n in names if three[n] != "c")  # only c's pipelines moved
    assert 60 < sum(1 for n in names if three[n] == "c") < 140


def test_two_electors_split_and_a_dead_one_is_taken_over(api: KubeApi) -> None:
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    mono = [0.0]
    electors = [
        ShardElector(lambda: api, "default", "fy", name, duration_s=15, clock=lambda: now[0], monotonic=lambda: mono[0])
        for name in ("a", "b")
    ]
    for _ in range(2):
        assert all(e.ensure() for e in electors)
    assert electors[0].members == electors[1].members == ["a", "b"]
    mono[0] += 10  # past the handoff
    names = [f"p{i}" for i in range(50)]
    owners = [[e.owns(n) for e in electors] for n in names]
    assert all(sum(o) == 1 for o in owners)  # every pipeline exactly once
    # b dies: its Lease expires one duration later and a owns everything
    now[0] += dt.timedelta(seconds=16)
    assert electors[0].ensure()
    assert electors[0].members == ["a"]
    assert all(electors[0].owns(n) for n in names)


class Replica:
    def __init__(self, workdir: Path, pipelines: Path, kube: str, identity: str, interval: str = "3") -> None:
        self.port = free_port()
        self.log = workdir / f"{identity}.log"
        argv = [
            sys.executable,
            "-m",
            "freightyard.controller.cli",
            "--log-level",
            "INFO",
            "controller",
            "-f",
            str(pipelines),
            "--state",
            f"file:{workdir / 'state'}",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--leader-election",
            "shard",
            "--kube-api",
            kube,
            "--lease-namespace",
            "default",
            "--lease-duration",
            "6",
            "--identity",
            identity,
            "--interval",
            interval,
            "--reload-interval",
            "1",
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FREIGHTYARD_CACHE": str(workdir / f"cache-{identity}"),
            "FREIGHTYARD_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        self._handle = self.log.open("wb")
        self.process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=self._handle, stderr=subprocess.STDOUT)

    def ready(self) -> dict[str, Any]:
        if self.process.poll() is not None:
            pytest.fail(f"replica exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as reply:
                return dict(json.load(reply))
        except urllib.error.HTTPError as error:
            return dict(json.loads(error.read() or b"{}"))
        except OSError:
            return {}

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._handle.close()


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def state_of(workdir: Path, name: str) -> State:
    return state_from_document(FileStore(workdir / "state" / f"freightyard-{name}.yaml").read().document)


def at(workdir: Path, name: str, stage: str, commit: str) -> bool:
    path = workdir / "state" / f"freightyard-{name}.yaml"
    if not path.exists():
        return False
    current = state_of(workdir, name).current_freight(stage)
    return current is not None and current.commits[0].id == commit


@pytest.mark.integration
def test_three_replicas_share_pipelines_and_survive_a_kill(
    kube: KubeEmulator, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    bare = git_http_server.create_repo("sharded.git", {"README": "1\n"})
    first = commit_files(bare, {"README": "2\n"}, message="two")
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (tmp_path / "state").mkdir()
    names = [f"s{i}" for i in range(PIPELINES)]
    for name in names:
        (pipelines / f"{name}.yaml").write_text(PIPELINE.format(name=name, git=git_http_server.repo_url("sharded.git")))
    replicas = [Replica(tmp_path, pipelines, kube.url, f"replica-{i}") for i in range(3)]
    try:
        wait(
            lambda: all(
                r.ready().get("shard", {}).get("members") == [f"replica-{i}" for i in range(3)] for r in replicas
            ),
            60,
            "three members",
        )
        wait(lambda: all(at(tmp_path, n, "staging", first) for n in names), 90, "every pipeline in staging")
        wait(lambda: not any(r.ready()["shard"]["settling"] for r in replicas), 30, "the handoff to end")
        shares = [r.ready()["shard"]["pipelines"] for r in replicas]
        assert sum(shares) == PIPELINES and all(shares), shares
        assert "freightyard_controller_shard_members 3.0" in replicas[0].metrics()

        replicas[2].stop(signal.SIGKILL)  # no release: the survivors wait for its Lease to expire
        killed = time.monotonic()
        second = commit_files(bare, {"README": "3\n"}, message="three")
        wait(
            lambda: all(r.ready().get("shard", {}).get("members") == ["replica-0", "replica-1"] for r in replicas[:2]),
            30,
            "two members",
        )
        taken_over = time.monotonic() - killed
        wait(lambda: all(at(tmp_path, n, "staging", second) for n in names), 90, "the new commit everywhere")
        assert taken_over < 6 + 3  # one lease duration plus an election tick
        wait(lambda: not any(r.ready()["shard"]["settling"] for r in replicas[:2]), 30, "the handoff to end")
        assert sum(r.ready()["shard"]["pipelines"] for r in replicas[:2]) == PIPELINES
    finally:
        for replica in replicas:
            replica.stop()
    for name in names:
        state = state_of(tmp_path, name)
        for stage in ("dev", "staging"):
            promoted = [h.freight for h in state.stages[stage].history]
            assert len(promoted) == len(set(promoted)) == 2, (name, stage, promoted)  # none doubled, none lost


@pytest.mark.integration
def test_a_webhook_to_one_replica_wakes_the_pipelines_every_member_owns(
    kube: KubeEmulator, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """The Service hands a push webhook to one replica; the pipelines the other members own are woken
    through their mailboxes within an election tick, long before their (60 s) interval."""
    import hashlib
    import hmac

    bare = git_http_server.create_repo("hooked.git", {"README": "1\n"})
    first = commit_files(bare, {"README": "2\n"}, message="two")
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (tmp_path / "state").mkdir()
    url = git_http_server.repo_url("hooked.git")
    names = [f"h{i}" for i in range(12)]
    for name in names:
        (pipelines / f"{name}.yaml").write_text(PIPELINE.format(name=name, git=url))
    replicas = [Replica(tmp_path, pipelines, kube.url, f"member-{i}", interval="60") for i in range(3)]
    try:
        wait(lambda: all(len(r.ready().get("shard", {}).get("members") or []) == 3 for r in replicas), 60, "members")
        wait(lambda: all(at(tmp_path, n, "dev", first) for n in names), 90, "every pipeline in dev")
        wait(lambda: not any(r.ready()["shard"]["settling"] for r in replicas), 30, "the handoff to end")
        assert all(r.ready()["shard"]["pipelines"] for r in replicas)  # each member owns some

        second = commit_files(bare, {"README": "3\n"}, message="three")
        body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": url}}).encode()
        signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"http://127.0.0.1:{replicas[0].port}/webhooks/github",
            data=body,
            headers={"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
            method="POST",
        )
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - http://127.0.0.1 only
            assert reply.status == 202
        wait(lambda: all(at(tmp_path, n, "dev", second) for n in names), 20, "the pushed commit in every dev")
        assert time.monotonic() - started < 10  # an election tick or two, not the 60 s interval
    finally:
        for replica in replicas:
            replica.stop()
