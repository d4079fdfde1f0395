"""The native launcher (cmp/launcher.c), built with the machine's C compiler: the same bytes and
contract as the Python launcher through the warm server, and the Python launcher whenever it cannot."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cmp_repo import freight, pinned_env
from tests.helpers.tools import missing_tool
from tests.test_cmp_server import fresh_copy, in_process, plugin_env, socket_path, start_server

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[1]
__all__ = ["socket_path"]  # the fixture, shared with the server's tests


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        missing_tool("cc: no C compiler to build cmp/launcher.c")
    out = tmp_path_factory.mktemp("launcher") / "freightyard-cmp"
    subprocess.run(
        [compiler, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(REPO / "cmp" / "launcher.c")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def python_launcher(tmp_path: Path) -> Path:
    """What the image installs as freightyard-cmp-py: the Python entry point."""
    script = tmp_path / "freightyard-cmp-py"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom freightyard.cmp.entry import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return script


def run(launcher: Path, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(launcher), *(args or ("generate",))], cwd=cwd, env=env, capture_output=True, timeout=60, check=False
    )


def test_through_the_server_the_bytes_equal_the_in_process_render(
    native: Path, git_repo: Path, tmp_path: Path, socket_path: Path
) -> None:
    env = {**plugin_env(tmp_path, socket_path, **pinned_env(freight())), "FREIGHTYARD_CMP_FALLBACK": "/nonexistent"}
    start_server(socket_path, env)
    done = run(native, fresh_copy(git_repo, tmp_path, "a"), env)  # the fallback cannot run: served it was
    expected = in_process(fresh_copy(git_repo, tmp_path, "b"), env)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == expected.stdout and b"@sha256:" in done.stdout


def test_a_failure_keeps_the_contract(native: Path, git_repo: Path, tmp_path: Path, socket_path: Path) -> None:
    env = plugin_env(tmp_path, socket_path, **pinned_env(freight(), STAGE="nope"))
    env["FREIGHTYARD_CMP_FALLBACK"] = "/nonexistent"
    start_server(socket_path, env)
    done = run(native, fresh_copy(git_repo, tmp_path, "a"), env)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.count(b"\n") == 1 and b"nope" in done.stderr


def test_without_a_server_it_becomes_the_python_launcher_which_starts_one(
    native: Path, git_repo: Path, tmp_path: Path, socket_path: Path
) -> None:
    env = {
        **plugin_env(tmp_path, socket_path, **pinned_env(freight())),
        "FREIGHTYARD_CMP_FALLBACK": str(python_launcher(tmp_path)),
    }
    first = run(native, fresh_copy(git_repo, tmp_path, "a"), env)
    assert first.returncode == 0 and b"@sha256:" in first.stdout, first.stderr
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        assert time.monotonic() < deadline, "the fallback did not start the render server"
        time.sleep(0.05)
    served = run(native, fresh_copy(git_repo, tmp_path, "b"), {**env, "FREIGHTYARD_CMP_FALLBACK": "/nonexistent"})
    assert served.returncode == 0 and served.stdout == first.stdout


def test_other_commands_and_untrusted_sockets_go_to_the_python_launcher(
    native: Path, git_repo: Path, tmp_path: Path, socket_path: Path
) -> None:
    env = {
        **plugin_env(tmp_path, socket_path, **pinned_env(freight())),
        "FREIGHTYARD_CMP_FALLBACK": str(python_launcher(tmp_path)),
    }
    parameters = run(native, fresh_copy(git_repo, tmp_path, "a"), env, "parameters")
    assert parameters.returncode == 0 and b'"name": "pipeline"' in parameters.stdout
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)  # others may enter: whoever listens here is not to be trusted
    untrusted = {**env, "FREIGHTYARD_CMP_SOCKET": str(shared / "render.sock")}
    start_server(shared / "render.sock", untrusted)
    no_fallback = {**untrusted, "FREIGHTYARD_CMP_FALLBACK": "/nonexistent"}
    refused = run(native, fresh_copy(git_repo, tmp_path, "b"), no_fallback)
    assert refused.returncode == 127  # it went for its fallback instead of the socket
    done = run(native, fresh_copy(git_repo, tmp_path, "b2"), untrusted)  # which renders in-process
    assert done.returncode == 0 and b"@sha256:" in done.stdout
    missing = run(native, fresh_copy(git_repo, tmp_path, "c"), {**env, "FREIGHTYARD_CMP_FALLBACK": "/nonexistent"})
    assert missing.returncode == 127 and b"cannot run /nonexistent" in missing.stderr  # no server, no fallback
