"""Controller benchmark: push-to-dev latency with a webhook, and CPU/memory with many idle pipelines.

Runs real parts: the smart-HTTP git server and the distribution registry from ``tests/servers``
and ``freightyard controller`` as a subprocess. Knobs (env): ``BENCH_PUSHES`` (default 10),
``BENCH_PIPELINES`` (200), ``BENCH_IDLE_S`` (60, the measured idle window), ``BENCH_INTERVAL`` (60s).

    PYTHONPATH=. python bench/bench_controller.py
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from freightyard.controller.webhooks import signature  # noqa: E402
from freightyard.shared.core.state import state_from_document  # noqa: E402
from freightyard.shared.stores.file import FileStore  # noqa: E402
from tests.servers._proc import free_port  # noqa: E402
from tests.servers.git_http import GitHttpServer  # noqa: E402
from tests.servers.oci import push_image  # noqa: E402
from tests.servers.registry import Registry  # noqa: E402

SECRET = "bench-secret"  # noqa: S105 - a throw-away webhook secret for loopback servers
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
  - name: staging
    requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    autoPromotion: true
"""


def start(workdir: Path, pipelines: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (workdir / "state").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FREIGHTYARD_WEBHOOK_SECRET": SECRET,
        "FREIGHTYARD_CACHE": str(workdir / "cache"),
    }
    log = (workdir / "controller.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "freightyard.controller.cli",
            "--log-level",
            "WARNING",
            "controller",
            "-f",
            str(pipelines),
            "--state",
            f"file:{workdir / 'state'}",
            "--listen",
            f"127.0.0.1:{port}",
            "--leader-election",
            "file",
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return process, port
        except OSError as error:
            if time.monotonic() > deadline or process.poll() is not None:
                tail = (workdir / "controller.log").read_text()[-2000:]
                raise RuntimeError(f"controller did not start: {tail}") from error
            time.sleep(0.05)


def dev_tag(workdir: Path, name: str) -> str:
    freight = state_from_document(FileStore(workdir / "state" / f"freightyard-{name}.yaml").read().document)
    current = freight.current_freight("dev")
    return current.images[0].tag if current else ""


def wait_for(check: object, timeout: float) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.01)
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def latency(workdir: Path, git: GitHttpServer, registry: Registry, pushes: int) -> dict[str, float]:
    repo = "latency"
    git.create_repo(f"{repo}.git", {"README": "x\n"})
    push_image(registry.url, f"{repo}/app", "1.0.0")
    pipelines = workdir / "pipelines-latency"
    pipelines.mkdir()
    image = f"{registry.host}/{repo}/app"
    (pipelines / "p.yaml").write_text(
        PIPELINE.format(name=repo, interval="60s", git=git.repo_url(f"{repo}.git"), image=image)
    )
    process, port = start(workdir, pipelines)
    try:
        wait_for(lambda: dev_tag(workdir, repo) == "1.0.0", 30)
        samples = []
        for i in range(1, pushes + 1):
            tag = f"1.{i}.0"
            push_image(registry.url, f"{repo}/app", tag)
            body = json.dumps({"repository": f"{image}:{tag}"}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/generic",
                data=body,
                method="POST",
                headers={"X-Freightyard-Signature-256": signature(body, SECRET), "Content-Type": "application/json"},
            )
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - http://127.0.0.1 only
                pass
            wait_for(lambda tag=tag: dev_tag(workdir, repo) == tag, 30)
            samples.append(time.monotonic() - started)
        return {"median_s": statistics.median(samples), "max_s": max(samples), "min_s": min(samples)}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def idle(
    workdir: Path, git: GitHttpServer, registry: Registry, *, count: int, window: float, interval: str
) -> dict[str, float]:
    git.create_repo("idle.git", {"README": "x\n"})
    push_image(registry.url, "idle/app", "1.0.0")
    pipelines = workdir / "pipelines-idle"
    pipelines.mkdir()
    for i in range(count):
        (pipelines / f"p{i}.yaml").write_text(
            PIPELINE.format(
                name=f"idle{i}", interval=interval, git=git.repo_url("idle.git"), image=f"{registry.host}/idle/app"
            )
        )
    started = time.monotonic()
    process, _ = start(workdir, pipelines)
    try:
        wait_for(lambda: all(dev_tag(workdir, f"idle{i}") for i in range(count)), 600)
        warm = time.monotonic() - started
        cpu_before, wall_before = cpu_seconds(process.pid), time.monotonic()
        time.sleep(window)  # the measurement window itself, not a stand-in for an assertion
        cpu = cpu_seconds(process.pid) - cpu_before
        elapsed = time.monotonic() - wall_before
        return {
            "pipelines": count,
            "all_in_dev_after_s": warm,
            "idle_window_s": elapsed,
            "cpu_percent": 100 * cpu / elapsed,
            "rss_mib": rss_mib(process.pid),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def main() -> int:
    pushes = int(os.environ.get("BENCH_PUSHES", "10"))
    count = int(os.environ.get("BENCH_PIPELINES", "200"))
    window = float(os.environ.get("BENCH_IDLE_S", "60"))
    interval = os.environ.get("BENCH_INTERVAL", "60s")
    with tempfile.TemporaryDirectory(prefix="fy-bench-") as tmp:
        base = Path(tmp)
        with GitHttpServer(base / "git") as git, Registry("anonymous", workdir=base / "registry") as registry:
            (base / "latency").mkdir()
            (base / "idle").mkdir()
            result = {
                "push_to_dev_with_webhook": latency(base / "latency", git, registry, pushes),
                "idle": idle(base / "idle", git, registry, count=count, window=window, interval=interval),
            }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
