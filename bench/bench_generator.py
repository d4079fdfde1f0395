"""Benchmark the generator under gunicorn on loopback: getparams vs a trivial endpoint of the same server.

    PYTHONPATH=. python bench/bench_generator.py [--requests 2000] [--clients 8] [--workers 2]

Two servers, one after the other: 1 pipeline × 10 stages, then 200 pipelines × 10 stages (requests
rotate over all 200 pipelines). For each: p50/p99 latency of sequential keep-alive requests and
throughput with several concurrent clients, for ``/healthz`` (baseline) and getparams. State is a
real file store, re-checked on every request as in production. Target: getparams p99 within 2× of
the baseline p99 at 200 × 10.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freightyard.shared.core.freight import Commit, Freight, Image  # noqa: E402
from freightyard.shared.core.state import StageState, State, state_to_document  # noqa: E402
from freightyard.shared.stores.file import FileStore  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - a throw-away token for a loopback server
HOST = "127.0.0.1"
STAGES = 10


def pipeline_text(name: str) -> str:
    stages = []
    for i in range(STAGES):
        source = "{direct: true}" if i == 0 else f"{{stages: [s{i - 1}]}}"
        stages.append(f"""\
  - name: s{i}
    requestedFreight: [{{origin: main, sources: {source}}}]
    apps: [{{name: {name}, path: apps/{name}/s{i}, destination: {{namespace: {name}-s{i}}}}}]
""")
    return f"""\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: {name}}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - git: {{repoURL: https://git.example.com/org/{name}.git, branch: main}}
    - image: {{repoURL: registry.example.com/org/{name}}}
  stages:
{"".join(stages)}"""


def make_world(root: Path, pipelines: int) -> tuple[Path, Path]:
    (root / ".git").mkdir(parents=True)
    pipeline_dir = root / "pipelines"
    state_dir = root / "state"
    pipeline_dir.mkdir()
    state_dir.mkdir()
    for p in range(pipelines):
        name = f"p{p:03d}"
        (pipeline_dir / f"{name}.yaml").write_text(pipeline_text(name))
        state = State()
        freights = [
            Freight(
                origin="main",
                commits=(Commit(f"https://git.example.com/org/{name}.git", f"{p:02x}{i:038x}"),),
                images=(Image(f"registry.example.com/org/{name}", f"1.{i}.0", "sha256:" + f"{i:064x}"),),
            )
            for i in range(5)
        ]
        for f in freights:
            state.add_freight(f)
        for s in range(STAGES):
            f = freights[s % len(freights)]
            apps = [name]
            state.stages[f"s{s}"] = StageState.holding(f, apps, by="bench", at="2024-05-01T10:00:00Z")
        store = FileStore(state_dir / f"freightyard-{name}.yaml")
        store.write(state_to_document(state, pipeline=name, name=f"freightyard-{name}", namespace="argocd"), None)
    return pipeline_dir, state_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(pipeline_dir: Path, state_dir: Path, tmp: Path, workers: int) -> Iterator[int]:
    port = free_port()
    token_file = tmp / "token"
    token_file.write_text(TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREIGHTYARD_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "FREIGHTYARD_BIND": f"{HOST}:{port}",
            "FREIGHTYARD_WORKERS": str(workers),
            "FREIGHTYARD_PIPELINES": str(pipeline_dir),
            "FREIGHTYARD_STATE": f"file:{state_dir}",
            "FREIGHTYARD_TOKEN_FILE": str(token_file),
            "FREIGHTYARD_LOG_LEVEL": "warning",
        }
    )
    log = open(tmp / f"gunicorn-{port}.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:freightyard.generator.gunicorn_conf",
            "freightyard.generator.app:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {(tmp / f'gunicorn-{port}.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                status, _ = Client(port).get("/healthz")
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not become ready in 30 s")
            time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=10)

    def get(self, path: str) -> tuple[int, bytes]:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        return response.status, response.read()

    def getparams(self, pipeline: str) -> tuple[int, bytes]:
        body = json.dumps({"applicationSetName": pipeline, "input": {"parameters": {"pipeline": pipeline}}})
        self.connection.request(
            "POST",
            "/api/v1/getparams.execute",
            body=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        response = self.connection.getresponse()
        return response.status, response.read()


def call(client: Client, target: str, i: int, pipelines: int) -> None:
    if target == "trivial":
        status, _ = client.get("/healthz")
    else:
        status, body = client.getparams(f"p{i % pipelines:03d}")
        if status == 200 and len(json.loads(body)["output"]["parameters"]) != STAGES:
            raise RuntimeError("wrong number of parameter sets")
    if status != 200:
        raise RuntimeError(f"{target}: HTTP {status}")


def latency(port: int, target: str, requests: int, pipelines: int) -> tuple[float, float]:
    client = Client(port)
    samples = []
    for i in range(requests):
        started = time.perf_counter()
        call(client, target, i, pipelines)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


def throughput(port: int, target: str, requests: int, clients: int, pipelines: int) -> float:
    per_client = max(1, requests // clients)
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        client = Client(port)
        try:
            for i in range(per_client):
                call(client, target, offset + i, pipelines)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c * per_client,)) for c in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"throughput run failed: {errors[0]}")
    return per_client * clients / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for throughput (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    args = parser.parse_args()
    results = {}
    print(f"{'scenario':<18}{'endpoint':<11}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>10}")
    with tempfile.TemporaryDirectory(prefix="freightyard-bench-") as tmp:
        for pipelines in (1, 200):
            world = Path(tmp) / f"w{pipelines}"
            pipeline_dir, state_dir = make_world(world, pipelines)
            with server(pipeline_dir, state_dir, world, args.workers) as port:
                warm = Client(port)
                for i in range(pipelines * args.workers * 2):  # every worker parses every pipeline once
                    call(warm, "getparams", i, pipelines)
                scenario = f"{pipelines} x {STAGES}"
                for target in ("trivial", "getparams"):
                    p50, p99 = latency(port, target, args.requests, pipelines)
                    rate = throughput(port, target, args.requests, args.clients, pipelines)
                    results[(pipelines, target)] = (p50, p99, rate)
                    print(f"{scenario:<18}{target:<11}{p50:>9.2f}{p99:>9.2f}{rate:>10.0f}")
    print()
    verdict = 0
    for pipelines in (1, 200):
        base, ours = results[(pipelines, "trivial")], results[(pipelines, "getparams")]
        ratio = ours[1] / base[1]
        print(
            f"{pipelines} x {STAGES}: p50 ratio {ours[0] / base[0]:.2f}, p99 ratio {ratio:.2f}, "
            f"throughput ratio {ours[2] / base[2]:.2f} (getparams / trivial)"
        )
        if pipelines == 200 and ratio > 2.0:
            verdict = 1
    print("target (p99 within 2x of trivial at 200 x 10):", "met" if verdict == 0 else "NOT met")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
