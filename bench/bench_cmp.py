"""Compare ``freightyard-cmp generate`` (as Argo CD runs it) with a bare ``kustomize build`` of the
same overlay, for a small overlay and a ~200-resource one. Targets: ratio <= 1.5 small, <= 1.2 large.

    python bench/bench_cmp.py [--iterations 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from freightyard.shared.core.freight import Freight, Image  # noqa: E402
from freightyard.shared.render.env import find_tools  # noqa: E402

IMAGE = "registry.example.com/org/web"
PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {name: bench}
spec:
  warehouses: [{name: main, subscriptions: [{image: {repoURL: registry.example.com/org/web}}]}]
  stages:
  - name: dev
    requestedFreight: [{origin: main, sources: {direct: true}}]
    apps: [{name: small, path: small/overlay}, {name: large, path: large/overlay}]
"""


def deployment(i: int) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web-{i}}}\nspec:\n"
        f"  selector: {{matchLabels: {{app: web-{i}}}}}\n  template:\n    metadata: {{labels: {{app: web-{i}}}}}\n"
        f"    spec:\n      containers: [{{name: web, image: '{IMAGE}:1.0'}}]\n---\n"
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: web-{i}}}\nspec: {{ports: [{{port: 80}}]}}\n---\n"
    )


def make_repo(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.yaml").write_text(PIPELINE)
    for name, count in (("small", 1), ("large", 100)):
        (root / name / "base").mkdir(parents=True)
        (root / name / "overlay").mkdir()
        (root / name / "base/all.yaml").write_text("".join(deployment(i) for i in range(count)))
        (root / name / "base/kustomization.yaml").write_text("resources: [all.yaml]\n")
        (root / name / "overlay/kustomization.yaml").write_text(
            f"resources: [../base]\nnamePrefix: dev-\nimages: [{{name: {IMAGE}, newTag: '1.1'}}]\n"
        )


def plain_python(venv: Path) -> str:
    """A venv holding our code the way the sidecar's ``pip install .`` does: copied and byte-compiled.

    A development checkout is usually an editable install, whose import hook costs 20-40 ms at
    every interpreter start, and PYTHONDONTWRITEBYTECODE may keep .pyc files from being written;
    the sidecar image has neither, so neither does the bench.
    """
    import compileall
    import sysconfig
    import venv as venv_module

    venv_module.create(venv, with_pip=False)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    for package in ("shared", "cmp"):
        shutil.copytree(REPO / package, purelib / package, ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(str(purelib / package), quiet=1)
    deps = sysconfig.get_paths()["purelib"]  # this interpreter's dependencies (PyYAML, semver, ...)
    (purelib / "freightyard-deps.pth").write_text(f"{deps}\n")
    return str(venv / "bin" / "python")


def wait_for_server(socket_path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if socket_path.exists():
            return
        time.sleep(0.05)
    raise SystemExit("the render server did not start")


def stop_server(socket_path: Path) -> None:
    pid_file = Path(f"{socket_path}.pid")
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), 15)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environ["FREIGHTYARD_TOOLS_DIR"] = environ.get("FREIGHTYARD_TOOLS_DIR", str(REPO / ".tools"))
    kustomize, _ = find_tools(environ)
    if not kustomize:
        raise SystemExit("no kustomize/kubectl found")
    freight = Freight(origin="main", images=(Image(IMAGE, "1.4.0", "sha256:" + "a" * 64),))
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = Path(tmp) / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "freightyard-cmp"  # what the console script does
        shim.write_text(
            f"#!{plain_python(Path(tmp) / 'venv')}\nimport sys\nfrom freightyard.cmp.entry import main\n"
            "sys.exit(main())\n"
        )
        shim.chmod(0o755)
        socket_path = Path(tmp) / "run" / "render.sock"
        socket_path.parent.mkdir(mode=0o700)
        repo = Path(tmp) / "repo"
        make_repo(repo)
        bare = [*kustomize, "build"] if len(kustomize) == 1 else list(kustomize)
        print(f"kustomize: {' '.join(kustomize)}; {args.iterations} iterations each, interleaved, median wall time")
        failed = False
        try:
            for name, target in (("small", 1.5), ("large", 1.2)):
                app = repo / name / "overlay"
                env = {
                    **environ,
                    "PATH": f"{bin_dir}{os.pathsep}{environ['PATH']}",
                    "ARGOCD_APP_SOURCE_PATH": f"{name}/overlay",
                    "ARGOCD_ENV_PIPELINE": "bench",
                    "ARGOCD_ENV_STAGE": "dev",
                    "ARGOCD_ENV_FREIGHT": freight.to_json(),
                    "ARGOCD_ENV_FREIGHT_ID": freight.id,
                    "ARGOCD_ENV_APP": name,
                    "FREIGHTYARD_CMP_SOCKET": str(socket_path),
                }
                cold_env = {**env, "FREIGHTYARD_CMP_SERVER": "off"}
                outputs = {timed_run(["freightyard-cmp", "generate"], app, env)[1]}  # starts the render server
                wait_for_server(socket_path)
                samples: dict[str, list[float]] = {"kustomize": [], "warm": [], "cold": []}
                for _ in range(args.iterations):
                    samples["kustomize"].append(timed_run([*bare, str(app)], app, env)[0])
                    elapsed, out = timed_run(["freightyard-cmp", "generate"], app, env)
                    samples["warm"].append(elapsed)
                    outputs.add(out)
                    elapsed, out = timed_run(["freightyard-cmp", "generate"], app, cold_env)
                    samples["cold"].append(elapsed)
                    outputs.add(out)
                if len(outputs) != 1:
                    raise SystemExit("the render server and in-process rendering disagree")
                plain, warm, cold = (statistics.median(samples[k]) for k in ("kustomize", "warm", "cold"))
                failed |= warm / plain > target
                print(
                    f"{name:5}  kustomize {plain * 1000:6.1f} ms | freightyard-cmp {warm * 1000:6.1f} ms "
                    f"(ratio {warm / plain:4.2f}, target <= {target}) | without the render server "
                    f"{cold * 1000:6.1f} ms (ratio {cold / plain:4.2f})"
                )
        finally:
            stop_server(socket_path)
    print("targets met" if not failed else "targets NOT met")
    return 1 if failed else 0


def timed_run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr.decode()[:500]}")
    return elapsed, done.stdout


if __name__ == "__main__":
    sys.exit(main())
