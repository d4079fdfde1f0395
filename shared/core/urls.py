"""Credentials never travel inside a URL: such a URL is refused where it is declared.

A URL is data: it is stored in the state, printed by the CLI, answered to Argo CD as ``repoURL``
and written into commit messages. Userinfo in it (``https://user:PASS@host``, ``user:PASS@registry``)
would leak everywhere at once, so validation refuses it and points at ``credentials:``. Checked on
the raw text, not ``urlsplit``: an unencoded ``#`` or ``/`` in a password must not hide it.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_PASSWORD = re.compile(r"^[^/@\s]*:[^@\s]*@")  # user:password@ even when the password holds / or #
_SSH_USER_ONLY = re.compile(r"^(?:ssh://)?[A-Za-z0-9._-]+@[^:/@\s]+[:/]")  # git@host:org/repo carries no secret


def userinfo_problem(url: str) -> str | None:
    """Why ``url`` may not be used as written, or None."""
    if not url or "@" not in url:
        return None
    if _SSH_USER_ONLY.match(url) and not url.lower().startswith(("http://", "https://", "oci://")):
        return None
    rest = _SCHEME.sub("", url, count=1)
    authority = re.split(r"[/?]", rest, maxsplit=1)[0]
    if "@" in authority or _PASSWORD.match(rest):
        return (
            "holds credentials (user:password@); they would be stored, shown and pushed with the URL: "
            "remove them and set credentials: NAME (env NAME_USERNAME/NAME_PASSWORD or a mounted Secret)"
        )
    return None
