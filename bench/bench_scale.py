"""Scale benchmark: N pipelines over D distinct sources, one controller, real git and registry servers.

Why: the controller's cost must grow with the number of distinct sources (repos, images), not
with the number of pipelines that watch them. Source ``i`` is a git repo ``src<i>.git`` on the
smart-HTTP server plus an image ``src<i>/app`` in the distribution registry (behind the counting
proxy); pipeline ``j`` watches source ``j % D``. Measured in one run:

- cold start: controller start until every pipeline's first stage (dev) holds freight;
- idle: CPU % of one core and RSS over a window once everything settled;
- remote requests per interval: requests counted at the git server and registry proxy in the
  window, scaled to one discovery interval;
- stop: SIGTERM until the process exited; afterwards every state file must parse.

Knobs (env): ``BENCH_PIPELINES`` (2000), ``BENCH_SOURCES`` (20), ``BENCH_INTERVAL`` (60, seconds),
``BENCH_IDLE_S`` (60, the measured window), ``BENCH_WORKERS`` (controller --workers, default theirs).

    PYTHONPATH=. python bench/bench_scale.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from freightyard.shared.core.state import state_from_document  # noqa: E402
from freightyard.shared.stores.file import FileStore  # noqa: E402
from tests.servers._proc import free_port  # noqa: E402
from tests.servers.git_http import GitHttpServer  # noqa: E402
from tests.servers.oci import push_image  # noqa: E402
from tests.servers.registry import Registry  # noqa: E402

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: {name}}}
spec:
  warehouses:
  - name: main
    interval: {interval}s
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def holds(state_dir: Path, name: str, stage: str) -> bool:
    path = state_dir / f"freightyard-{name}.yaml"
    if not path.exists():
        return False
    state = state_from_document(FileStore(path).read().document)
    return state.current_freight(stage) is not None


def wait_all(state_dir: Path, names: list[str], stage: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Wait until every pipeline's ``stage`` holds freight; checks only the ones still missing."""
    missing = list(names)
    deadline = time.monotonic() + timeout
    while missing:
        if process.poll() is not None:
            raise RuntimeError(f"controller exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(missing)} pipelines have nothing in {stage} after {timeout:.0f}s")
        missing = [name for name in missing if not holds(state_dir, name, stage)]
        if missing:
            time.sleep(0.25)


def served(git: GitHttpServer, registry: Registry) -> int:
    return git.requests_served + registry.requests_served


def main() -> int:
    count = int(os.environ.get("BENCH_PIPELINES", "2000"))
    distinct = int(os.environ.get("BENCH_SOURCES", "20"))
    interval = float(os.environ.get("BENCH_INTERVAL", "60"))
    window = float(os.environ.get("BENCH_IDLE_S", "60"))
    workers = os.environ.get("BENCH_WORKERS", "")
    with tempfile.TemporaryDirectory(prefix="fy-scale-") as tmp:
        base = Path(tmp)
        with (
            GitHttpServer(base / "git") as git,
            Registry("anonymous", workdir=base / "registry", paginate_tags=True) as registry,
        ):
            for i in range(distinct):
                git.create_repo(f"src{i}.git", {"README": f"source {i}\n"})
                push_image(registry.url, f"src{i}/app", "1.0.0")
            pipelines, state = base / "pipelines", base / "state"
            pipelines.mkdir()
            state.mkdir()
            names = [f"p{j}" for j in range(count)]
            for j, name in enumerate(names):
                source = j % distinct
                (pipelines / f"{name}.yaml").write_text(
                    PIPELINE.format(
                        name=name,
                        interval=f"{interval:g}",
                        git=git.repo_url(f"src{source}.git"),
                        image=f"{registry.host}/src{source}/app",
                    )
                )
            port = free_port()
            argv = [
                sys.executable,
                "-m",
                "freightyard.controller.cli",
                "--log-level",
                "WARNING",
                "controller",
                "-f",
                str(pipelines),
                "--state",
                f"file:{state}",
                "--listen",
                f"127.0.0.1:{port}",
                "--leader-election",
                "file",
            ]
            if workers:
                argv += ["--workers", workers]
            env = {**os.environ, "PYTHONPATH": str(ROOT), "FREIGHTYARD_CACHE": str(base / "cache")}
            with (base / "controller.log").open("ab") as log:
                started = time.monotonic()
                process = subprocess.Popen(argv, cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT)
                try:
                    wait_all(state, names, "dev", 900, process)
                    cold = time.monotonic() - started
                    wait_all(state, names, "staging", 900, process)
                    time.sleep(2)  # let the last round of writes land before the window opens
                    cpu0, wall0, requests0 = cpu_seconds(process.pid), time.monotonic(), served(git, registry)
                    time.sleep(window)  # the measurement window itself
                    elapsed = time.monotonic() - wall0
                    idle = 100 * (cpu_seconds(process.pid) - cpu0) / elapsed
                    per_interval = (served(git, registry) - requests0) * interval / elapsed
                    rss = rss_mib(process.pid)
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                        metrics_size = len(reply.read())
                    stop_at = time.monotonic()
                    process.send_signal(signal.SIGTERM)
                    process.wait(120)
                    stop = time.monotonic() - stop_at
                finally:
                    if process.poll() is None:
                        process.kill()
                        process.wait()
            broken = [n for n in names if not holds(state, n, "dev")]
            if broken:
                raise RuntimeError(f"{len(broken)} state files lost dev freight after stop (first: {broken[0]})")
    print(
        json.dumps(
            {
                "pipelines": count,
                "sources": distinct,
                "interval_s": interval,
                "cold_start_s": round(cold, 2),
                "idle_window_s": round(elapsed, 1),
                "idle_cpu_percent": round(idle, 2),
                "rss_mib": round(rss, 1),
                "requests_per_interval": round(per_interval, 1),
                "metrics_bytes": metrics_size,
                "stop_s": round(stop, 2),
                "exit_code": process.returncode,
            },
            indent=2,
        )
    )
    print(
        f"scale: {count} pipelines over {distinct} sources: cold start {cold:.1f} s, idle {idle:.1f} % of a core, "
        f"{per_interval:.0f} requests per interval, stop {stop:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
