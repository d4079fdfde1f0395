"""Locate external binaries (repo-local .tools/bin first, then PATH)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[2]
TOOLS_BIN: Path = Path(os.environ.get("FREIGHTYARD_TOOLS_DIR", str(REPO_ROOT / ".tools"))) / "bin"

# Tools that scripts/install-tools.sh installs, and where they come from.
_INSTALL_HINT = "run `bash scripts/install-tools.sh`"


class ToolNotFoundError(RuntimeError):
    """A required external binary is not installed (tests should skip, or fail under CI)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"required tool {name!r} not found in {TOOLS_BIN} or on PATH ({_INSTALL_HINT})")
        self.name = name


def find_tool(name: str) -> str:
    """Return the absolute path of `name`, preferring <repo>/.tools/bin over PATH."""
    local = TOOLS_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolNotFoundError(name)
    return found


def helm_path() -> str:
    """Path of the pinned helm binary."""
    return find_tool("helm")


def kubectl_path() -> str:
    """Path of the pinned kubectl binary."""
    return find_tool("kubectl")


def git_path() -> str:
    """Path of git."""
    return find_tool("git")


def registry_path() -> str:
    """Path of Debian's `docker-registry` (distribution v2) binary."""
    return find_tool("docker-registry")


def skopeo_path() -> str:
    """Path of skopeo."""
    return find_tool("skopeo")


def htpasswd_path() -> str:
    """Path of htpasswd (apache2-utils)."""
    return find_tool("htpasswd")


def openssl_path() -> str:
    """Path of the openssl CLI."""
    return find_tool("openssl")
