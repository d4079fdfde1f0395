"""The controller as a process against real git and registry servers: continuous promotion end to end.

Done-when of the controller issue: a new image and a new commit become freight and reach dev and
then staging with no manual step; a webhook makes that take about a second instead of an interval;
a controller killed mid-promotion and restarted ends with consistent state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from freightyard.controller.webhooks import signature
from freightyard.shared.core.state import State, state_from_document
from freightyard.shared.stores.file import FileStore
from tests.servers._proc import free_port
from tests.servers.git_http import GitHttpServer, commit_files
from tests.servers.oci import push_image
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-webhook-token"
T = TypeVar("T")

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: {name}}}
spec:
  warehouses:
  - name: main
    interval: {interval}
    subscriptions:
    - git: {{repoURL: "{git}", branch: main}}
    - image: {{repoURL: "{image}", imageSelectionStrategy: SemVer, insecure: true}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    autoPromotion: true
    apps: [{{name: app, path: apps/app/dev}}]
  - name: staging
    requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    autoPromotion: true
    apps: [{{name: app, path: apps/app/staging}}]
"""

SLOW_STAGING = """\
import os, sys, time, pathlib
import freightyard.shared.mechanisms.pin as pin
marker = pathlib.Path(os.environ["FY_TEST_MARKER"])
original = pin.Pin.promote
def slow(self, context):
    if context.stage.name == "staging":
        marker.write_text(context.freight.id)
        time.sleep(120)
    return original(self, context)
pin.Pin.promote = slow
from freightyard.controller.cli import main
sys.exit(main(sys.argv[1:]))
"""


def poll(check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Return the first truthy ``check()`` within ``timeout`` seconds, else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Running:
    """A ``freightyard controller`` subprocess with its own state directory and port."""

    def __init__(
        self,
        workdir: Path,
        pipelines: Path,
        *,
        interval: float | None = None,
        wrapper: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.state_dir = workdir / "state"
        self.state_dir.mkdir(exist_ok=True)
        self.log = workdir / f"controller-{self.port}.log"
        entry = [str(wrapper)] if wrapper else ["-m", "freightyard.controller.cli"]
        argv = [
            sys.executable,
            *entry,
            "--log-level",
            "INFO",
            "--log-format",
            "json",
            "controller",
            "-f",
            str(pipelines),
            "--state",
            f"file:{self.state_dir}",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--leader-election",
            "file",
            "--reload-interval",
            "1",
        ]
        if interval is not None:
            argv += ["--interval", str(interval)]
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "FREIGHTYARD_WEBHOOK_SECRET": SECRET, **(env or {})}
        self._log_handle = self.log.open("wb")
        self.process = subprocess.Popen(
            argv, cwd=workdir, env=full_env, stdout=self._log_handle, stderr=subprocess.STDOUT
        )
        poll(self._healthy, timeout=30, what="the controller's /healthz")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"the controller exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                return bool(json.load(response)["leader"])
        except OSError:
            return False

    def state(self, pipeline: str) -> State:
        return state_from_document(FileStore(self.state_dir / f"freightyard-{pipeline}.yaml").read().document)

    def post(
        self, provider: str, payload: dict[str, Any], headers: dict[str, str], sign: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """POST a delivery; ``sign`` names the header that gets the body's HMAC signature."""
        body = json.dumps(payload).encode()
        signed = {sign: signature(body, SECRET)} if sign else {}
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/webhooks/{provider}",
            data=body,
            headers={"Content-Type": "application/json", **headers, **signed},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http://127.0.0.1 only
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log_handle.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_handle.close()


@pytest.fixture
def world(tmp_path: Path, git_http_server: GitHttpServer, registry: Registry) -> Iterator[dict[str, Any]]:
    """A fresh git repo and image repository with one commit and one image, and a pipeline file."""
    name = f"shop{free_port()}"
    bare = git_http_server.create_repo(
        f"{name}.git", {"apps/app/dev/app.yaml": "v: 1\n", "apps/app/staging/app.yaml": "v: 1\n"}
    )
    image = f"{registry.host}/{name}/app"
    push_image(registry.url, f"{name}/app", "1.0.0")
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    yield {
        "name": name,
        "bare": bare,
        "git": git_http_server.repo_url(f"{name}.git"),
        "image": image,
        "registry": registry,
        "pipelines": pipelines,
        "workdir": tmp_path,
    }


def write_pipeline(world: dict[str, Any], interval: str) -> None:
    (world["pipelines"] / "pipeline.yaml").write_text(
        PIPELINE.format(name=world["name"], interval=interval, git=world["git"], image=world["image"])
    )


def pinned(running: Running, world: dict[str, Any], stage: str, image_tag: str, commit: str) -> str | None:
    """The id of the freight pinned in ``stage`` when it carries ``image_tag`` and ``commit``."""
    state = running.state(world["name"])
    freight = state.current_freight(stage)
    if freight and freight.images[0].tag == image_tag and freight.commits[0].id == commit:
        return freight.id
    return None


def head(world: dict[str, Any]) -> str:
    from tests.servers.git_http import git

    return git("--git-dir", str(world["bare"]), "rev-parse", "refs/heads/main")


def test_new_image_and_commit_flow_through_dev_and_staging(world: dict[str, Any]) -> None:
    write_pipeline(world, "1m")
    running = Running(world["workdir"], world["pipelines"], interval=1)
    try:
        first = head(world)
        poll(lambda: pinned(running, world, "staging", "1.0.0", first), timeout=30, what="first freight in staging")
        push_image(world["registry"].url, f"{world['name']}/app", "1.1.0")
        second = commit_files(world["bare"], {"apps/app/dev/app.yaml": "v: 2\n"}, message="v2")
        fid = poll(
            lambda: pinned(running, world, "staging", "1.1.0", second),
            timeout=30,
            what="new freight promoted through dev into staging",
        )
        state = running.state(world["name"])
        assert state.current_freight("dev") is not None and state.current_freight("dev").id == fid  # type: ignore[union-attr]
        for stage in ("dev", "staging"):
            history = state.stages[stage].history
            assert [h.phase for h in history] == ["Succeeded", "Succeeded"], history
            assert history[0].by == "controller:auto-promotion" and history[0].revision == second
            assert state.stages[stage].is_verified(fid)
        metrics = running.metrics()
        assert f'freightyard_controller_freight_created_total{{pipeline="{world["name"]}",warehouse="main"}}' in metrics
        assert 'phase="Succeeded"' in metrics
    finally:
        running.stop()


def test_webhook_shortens_discovery_to_about_a_second(world: dict[str, Any]) -> None:
    write_pipeline(world, "60s")
    running = Running(world["workdir"], world["pipelines"])
    try:
        first = head(world)
        poll(lambda: pinned(running, world, "dev", "1.0.0", first), timeout=30, what="the first freight in dev")
        # A registry push announced by a (generic, HMAC-signed) registry webhook.
        push_image(world["registry"].url, f"{world['name']}/app", "1.2.0")
        started = time.monotonic()
        status, answer = running.post(
            "generic", {"repository": f"{world['image']}:1.2.0"}, {}, sign="X-Freightyard-Signature-256"
        )
        assert status == 202, answer
        assert answer["triggered"] == [{"pipeline": world["name"], "warehouse": "main"}]
        poll(lambda: pinned(running, world, "dev", "1.2.0", first), timeout=10, what="webhook-triggered freight")
        image_latency = time.monotonic() - started
        # A git push announced by a GitHub push webhook (X-Hub-Signature-256).
        second = commit_files(world["bare"], {"apps/app/dev/app.yaml": "v: 3\n"}, message="v3")
        started = time.monotonic()
        status, answer = running.post(
            "github",
            {"ref": "refs/heads/main", "repository": {"clone_url": world["git"]}},
            {"X-GitHub-Event": "push"},
            sign="X-Hub-Signature-256",
        )
        assert status == 202, answer
        poll(lambda: pinned(running, world, "dev", "1.2.0", second), timeout=10, what="push-triggered freight")
        git_latency = time.monotonic() - started
        assert image_latency < 3.0 and git_latency < 3.0, (image_latency, git_latency)
        # A delivery with a wrong signature is refused and triggers nothing.
        body = {"repository": {"clone_url": world["git"]}}
        forged = {"X-Hub-Signature-256": "sha256=" + "0" * 64, "X-GitHub-Event": "push"}
        status, _ = running.post("github", body, forged)
        assert status == 401
    finally:
        running.stop()


def test_killed_mid_promotion_resumes_without_duplicates(world: dict[str, Any]) -> None:
    write_pipeline(world, "1m")
    wrapper = world["workdir"] / "slow_staging.py"
    wrapper.write_text(SLOW_STAGING)
    marker = world["workdir"] / "in-staging-promotion"
    first = head(world)
    running = Running(world["workdir"], world["pipelines"], wrapper=wrapper, env={"FY_TEST_MARKER": str(marker)})
    try:
        fid = poll(lambda: marker.exists() and marker.read_text(), timeout=30, what="the staging promotion to start")
        running.kill()  # SIGKILL in the middle of the staging promotion
    finally:
        running.stop()
    state = running.state(world["name"])
    assert [h.freight for h in state.stages["dev"].history] == [fid]
    assert "staging" not in state.stages or not state.stages["staging"].history  # nothing half-recorded
    # (pin's whole effect is the state write, so it records no intent; tests/test_crash_safety.py kills
    # a git-writing promotion, which does)
    restarted = Running(world["workdir"], world["pipelines"])  # the kernel released the dead one's file lock
    try:
        poll(lambda: pinned(restarted, world, "staging", "1.0.0", first), timeout=30, what="staging after restart")
        state = restarted.state(world["name"])
        assert [(h.freight, h.phase) for h in state.stages["staging"].history] == [(fid, "Succeeded")]
        assert [(h.freight, h.phase) for h in state.stages["dev"].history] == [(fid, "Succeeded")]
        assert list(state.freight) == [fid]
    finally:
        restarted.stop()


def test_sigterm_at_500_pipelines_exits_within_five_seconds_with_state_intact(world: dict[str, Any]) -> None:
    """Kubernetes kills a pod 30 s after SIGTERM; the controller stops in a few seconds even while
    hundreds of pipelines are being reconciled, and every state file it wrote still parses."""
    names = [f"{world['name']}-{i}" for i in range(500)]
    for name in names:
        (world["pipelines"] / f"{name}.yaml").write_text(
            PIPELINE.format(name=name, interval="1m", git=world["git"], image=world["image"])
        )
    running = Running(world["workdir"], world["pipelines"])
    try:
        poll(lambda: len(list(running.state_dir.glob("*.yaml"))) > 50, timeout=60, what="reconciling under way")
        started = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(30)
        stopped = time.monotonic() - started
    finally:
        running.stop()
    assert running.process.returncode == 0 and stopped < 5.0, (running.process.returncode, stopped)
    for path in running.state_dir.glob("freightyard-*.yaml"):
        assert FileStore(path).read().document is not None  # atomic replaces: never half a file
