"""The warm render server answers exactly what in-process rendering answers, and is never trusted blindly."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from freightyard.cmp import client
from tests.helpers.cmp_repo import OVERLAY, freight, pinned_env

pytestmark = pytest.mark.integration  # real git (and, for the CMP server, kustomize)

REPO = Path(__file__).resolve().parents[1]


def plugin_env(tmp_path: Path, socket_path: Path, **settings: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "FREIGHTYARD_TOOLS_DIR": str(REPO / ".tools"),
        "FREIGHTYARD_CMP_SOCKET": str(socket_path),
        "ARGOCD_APP_SOURCE_PATH": OVERLAY,
        "ARGOCD_APP_NAMESPACE": "guestbook-dev",
        "PYTHONPATH": str(REPO),
    }
    env.update({f"ARGOCD_ENV_{k}": v for k, v in settings.items()})
    return env


STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    path = run_dir / "render.sock"
    yield path
    while STARTED:
        process = STARTED.pop()
        process.terminate()
        process.wait(10)
    pid_file = Path(f"{path}.pid")
    if pid_file.exists():  # a server the code under test started itself
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def start_server(path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "freightyard.cmp.server", str(path)], env=env, cwd=REPO)
    STARTED.append(process)
    deadline = time.monotonic() + 20
    while not path.exists():
        assert process.poll() is None, "render server exited"
        assert time.monotonic() < deadline, "render server did not start"
        time.sleep(0.05)
    return process


def fresh_copy(repo: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(repo, copy, symlinks=True)
    return copy / OVERLAY


def in_process(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "freightyard.cmp.entry", "generate"],
        cwd=cwd,
        env={**env, "FREIGHTYARD_CMP_SERVER": "off"},
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_server_output_is_byte_identical_to_in_process(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
) -> None:
    env = plugin_env(tmp_path, socket_path, **pinned_env(freight()))
    server = start_server(socket_path, env)
    served = client.render(env, str(fresh_copy(git_repo, tmp_path, "a")))
    assert served is not None, "the client did not reach the server"
    code, out, err = served
    expected = in_process(fresh_copy(git_repo, tmp_path, "b"), env)
    assert (code, err) == (0, "")
    assert out == expected.stdout and b"@sha256:" in out
    assert server.poll() is None


def test_failures_through_the_server_keep_the_contract(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
) -> None:
    env = plugin_env(tmp_path, socket_path, **pinned_env(freight(), STAGE="nope"))
    start_server(socket_path, env)
    served = client.render(env, str(fresh_copy(git_repo, tmp_path, "a")))
    assert served is not None
    code, out, err = served
    assert code == 1 and out == b""
    assert err.count("\n") == 1 and "nope" in err


def test_first_call_renders_in_process_and_starts_the_server(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
) -> None:
    env = plugin_env(tmp_path, socket_path, **pinned_env(freight()))
    first = subprocess.run(
        [sys.executable, "-m", "freightyard.cmp.entry", "generate"],
        cwd=fresh_copy(git_repo, tmp_path, "a"),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert first.returncode == 0 and b"@sha256:" in first.stdout
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        assert time.monotonic() < deadline, "the first call did not start the render server"
        time.sleep(0.05)
    second = client.render(env, str(fresh_copy(git_repo, tmp_path, "b")))
    assert second is not None and second[1] == first.stdout


def test_a_server_running_other_code_is_not_used_and_exits(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = plugin_env(tmp_path, socket_path, **pinned_env(freight()))
    server = start_server(socket_path, env)
    monkeypatch.setattr(client, "code_version", lambda: "other-code")
    assert client.render(env, str(fresh_copy(git_repo, tmp_path, "a"))) is None
    assert server.wait(15) == 0


def test_a_socket_in_a_shared_directory_is_not_trusted(tmp_path: Path) -> None:
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir(mode=0o755)
    shared_dir.chmod(0o755)
    env = {"FREIGHTYARD_CMP_SOCKET": str(shared_dir / "render.sock")}
    assert client.render(env, str(tmp_path)) is None


def test_no_server_means_none(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    assert client.render({"FREIGHTYARD_CMP_SOCKET": str(run_dir / "render.sock")}, str(tmp_path)) is None


def test_the_repo_copy_cannot_shadow_the_servers_modules(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    app = fresh_copy(git_repo, tmp_path, "evil")
    for module in ("cmp/server.py", "yaml.py", "shared/render/__init__.py"):
        (app / module).parent.mkdir(parents=True, exist_ok=True)
        (app / module).write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    (app / "cmp" / "__init__.py").write_text("")
    env = plugin_env(tmp_path, socket_path, **pinned_env(freight()))
    first = subprocess.run(
        [sys.executable, "-P", "-m", "freightyard.cmp.entry", "generate"],
        cwd=app,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        assert time.monotonic() < deadline, "the render server did not start"
        time.sleep(0.05)
    served = client.render(env, str(app))
    assert served is not None and served[0] == 0
    assert not marker.exists()


def test_concurrent_renders_are_served_independently(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from freightyard.cmp.server import HANDLERS

    # More clients than handler threads: the rest wait in the listen backlog, none is refused.
    envs = [
        plugin_env(tmp_path, socket_path, **pinned_env(freight(tag=f"1.{n}.0", digest=f"sha256:{n:064x}")))
        for n in range(1, HANDLERS + 5)
    ]
    start_server(socket_path, envs[0])
    copies = [str(fresh_copy(git_repo, tmp_path, f"c{n}")) for n in range(len(envs))]
    with ThreadPoolExecutor(max_workers=len(envs)) as pool:
        answers = list(pool.map(lambda pair: client.render(*pair), zip(envs, copies, strict=True)))
    for n, answer in enumerate(answers, start=1):
        assert answer is not None and answer[0] == 0, answer
        assert f":1.{n}.0@sha256:{n:064x}".encode() in answer[1]  # each request its own freight


def test_sidecar_entry_starts_the_server_then_becomes_the_cmp_server(tmp_path: Path, socket_path: Path) -> None:
    env = {**plugin_env(tmp_path, socket_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "freightyard.cmp.entry",
            "sidecar",
            "--",
            sys.executable,
            "-c",
            "print('argocd-cmp-server stand-in')",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == b"argocd-cmp-server stand-in\n"
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        assert time.monotonic() < deadline, "the sidecar entry did not start the render server"
        time.sleep(0.05)
    missing = subprocess.run(
        [sys.executable, "-P", "-m", "freightyard.cmp.entry", "sidecar", "--", "/nonexistent/cmp-server"],
        env={**env, "FREIGHTYARD_CMP_SERVER": "off"},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 127 and b"cannot run /nonexistent/cmp-server" in missing.stderr


def package_copy(tmp_path: Path) -> Path:
    """A real-file copy of the installed package (mtimes kept, so the client's code version matches)."""
    root = tmp_path / "pkg"
    shutil.copytree(REPO / "freightyard", root / "freightyard", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_change_to_any_loaded_module_makes_the_server_stale(
    git_repo: Path,
    tmp_path: Path,
    socket_path: Path,
) -> None:
    # shared/core is outside the directories the client's code_version scans: only the server's own
    # record of what it loaded can notice this change.
    root = package_copy(tmp_path)
    env = {**plugin_env(tmp_path, socket_path, **pinned_env(freight())), "PYTHONPATH": str(root)}
    process = subprocess.Popen([sys.executable, "-m", "freightyard.cmp.server", str(socket_path)], env=env, cwd=root)
    STARTED.append(process)
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        assert process.poll() is None and time.monotonic() < deadline, "render server did not start"
        time.sleep(0.05)
    served = client.render(env, str(fresh_copy(git_repo, tmp_path, "a")))
    assert served is not None and served[0] == 0, served
    changed = root / "freightyard" / "shared" / "core" / "freight.py"
    assert changed.is_file()
    with changed.open("a") as handle:
        handle.write("# edited after the server loaded it\n")
    assert client.render(env, str(fresh_copy(git_repo, tmp_path, "b"))) is None
    assert process.wait(15) == 0


def test_a_render_whose_client_went_away_is_killed(git_repo: Path, tmp_path: Path, socket_path: Path) -> None:
    """Argo CD kills the CMP at its deadline; the server then stops that render's kustomize too,
    instead of letting it run on for nobody (and piling up under a slow app)."""
    import _socket

    from freightyard.cmp.protocol import code_version, encode

    pid_file = tmp_path / "kustomize.pid"
    slow = tmp_path / "slow-kustomize"
    slow.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    slow.chmod(0o755)
    env = {**plugin_env(tmp_path, socket_path, **pinned_env(freight())), "FREIGHTYARD_KUSTOMIZE": str(slow)}
    server = start_server(socket_path, env)
    app = fresh_copy(git_repo, tmp_path, "a")
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    conn.connect(str(socket_path))
    conn.sendall(encode([code_version(), str(app), *(f"{k}={v}" for k, v in env.items())]))
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the render did not start kustomize"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    conn.close()  # what killing the launcher does to the socket
    deadline = time.monotonic() + 3
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        assert time.monotonic() < deadline, "kustomize still runs after its client went away"
        time.sleep(0.05)
    assert server.poll() is None  # the server itself carries on
    served = client.render({**env, "FREIGHTYARD_KUSTOMIZE": ""}, str(fresh_copy(git_repo, tmp_path, "b")))
    assert served is not None and served[0] == 0 and b"@sha256:" in served[1]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].splitlines()[0].lower()
    except (OSError, IndexError):
        return "zombie"


def test_a_request_the_watcher_never_checked_counts_as_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault in the watcher thread must not hang renders: the request is refused as stale (the client
    renders in-process and the server exits) once the check is overdue."""
    import socket

    from freightyard.cmp import watcher

    monkeypatch.setattr(watcher, "CHECK_TIMEOUT_S", 0.05)
    one, other = socket.socketpair()
    with one, other:
        unchecked = watcher.Watch(one, one.fileno())
        assert unchecked.code_is_stale()
        checked = watcher.Watch(other, other.fileno())
        checked.checked.set()
        assert not checked.code_is_stale()
