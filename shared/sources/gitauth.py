"""Git credentials without argv: split them out of URLs and hand them to git through ``GIT_ASKPASS``.

The askpass helper is a tiny script that echoes two environment variables of the git process, so
the secret lives only in that process's environment — never in argv, the mirror's config, a log
line or an error message.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from freightyard.shared.credentials import Credentials

USER_VAR = "FREIGHTYARD_GIT_USERNAME"
PASSWORD_VAR = "FREIGHTYARD_GIT_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
DEFAULT_USERNAME = "git"  # token-only credentials: hosts want some user name, most ignore which
_SCRIPT = f"""#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "${USER_VAR}" ;;
  *) printf '%s\\n' "${PASSWORD_VAR}" ;;
esac
"""


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """``https://user:tok@host/r.git`` -> (``https://host/r.git``, Credentials); other URLs unchanged."""
    if "://" not in url:
        return url, None
    parts = urlsplit(url)
    if parts.password is None and not parts.username:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    if parts.password is None:
        return clean, Credentials(unquote(parts.username or ""), "")
    return clean, Credentials(unquote(parts.username or ""), unquote(parts.password))


def askpass_script(cache_dir: Path) -> Path:
    """Write (once) the askpass helper under ``cache_dir``, private to this user."""
    path = cache_dir / "askpass.sh"
    if not path.exists() or path.read_text() != _SCRIPT:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_SCRIPT)
        tmp.chmod(stat.S_IRWXU)
        tmp.replace(path)
    return path


def askpass_env(cache_dir: Path, credentials: Credentials | None) -> dict[str, str]:
    """Environment for one git process: askpass wired to ``credentials`` (none: prompts fail fast)."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
    if credentials is None or not credentials.password:
        env["GIT_ASKPASS"] = "/bin/false" if os.path.exists("/bin/false") else "false"
        return env
    env.update(
        {
            "GIT_ASKPASS": str(askpass_script(cache_dir)),
            USER_VAR: credentials.username or DEFAULT_USERNAME,
            PASSWORD_VAR: credentials.password,
        }
    )
    return env
