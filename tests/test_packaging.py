"""The wheel a user installs: one top-level package, no build warnings, working console scripts.

Built with pip from this checkout and installed, without dependencies, into a fresh venv outside it
whose only other path is this environment's site-packages (for PyYAML and friends, not for our code).
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from freightyard import __version__

pytestmark = pytest.mark.integration  # pip builds the wheel (seconds), a venv is created

REPO = Path(__file__).resolve().parents[1]
WARNING = re.compile(r"deprecat|SetuptoolsWarning|^\s*!!\s*$", re.IGNORECASE | re.MULTILINE)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=out,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("freightyard-*.whl")
    return wheel, done.stdout + done.stderr


@pytest.fixture(scope="module")
def venv(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    (purelib,) = (root / "lib").glob("python*/site-packages")
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(root / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            "--disable-pip-version-check",
            str(built[0]),
        ],
        check=True,
        timeout=240,
        cwd=root,
    )
    return root


def test_the_wheel_holds_one_top_level_package_with_its_data(built: tuple[Path, str]) -> None:
    wheel, log = built
    assert not WARNING.search(log), WARNING.search(log)
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"freightyard", f"freightyard-{__version__}.dist-info"}, tops
    assert {"freightyard/py.typed", "freightyard/cmp/plugin.yaml", "freightyard/shared/core/state.py"} <= set(names)
    metadata = zipfile.ZipFile(wheel).read(f"freightyard-{__version__}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata


def run(venv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False, cwd=venv, env=env)


def test_installed_outside_the_checkout(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    imported = run(
        venv,
        python,
        "-c",
        "import freightyard.shared, freightyard.cmp, freightyard.generator, "
        "freightyard.controller, freightyard; print(freightyard.__file__)",
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(str(venv)), imported.stdout
    for name in ("shared", "cmp", "generator", "controller"):
        missing = run(venv, python, "-c", f"import {name}")
        assert f"No module named '{name}'" in missing.stderr, (name, missing.stderr)
    version = run(venv, str(venv / "bin" / "freightyard"), "--version")
    assert version.stdout.strip() == f"freightyard {__version__}", version
    announced = run(venv, str(venv / "bin" / "freightyard-cmp"), "parameters")
    assert announced.returncode == 0 and '"name": "pipeline"' in announced.stdout, announced
