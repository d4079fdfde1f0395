"""Git branch names, checked as ``git check-ref-format --branch`` does, so a bad name is a
validation error with its line instead of a failed push at promotion time."""

from __future__ import annotations

FORBIDDEN = frozenset(" ~^:?*[\\")
MAX_BRANCH_CHARS = 250  # git itself has no limit; hosts refuse far shorter names than filesystems allow


def branch_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a branch, or None (templates with ``${{ }}`` are checked after rendering)."""
    if "${{" in name:
        return None
    if not name:
        return "is empty"
    if len(name) > MAX_BRANCH_CHARS:
        return f"is {len(name)} characters, more than {MAX_BRANCH_CHARS}"
    bad = next((c for c in name if c in FORBIDDEN or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        return f"contains {bad!r} (git refuses space, control characters and ~ ^ : ? * [ \\)"
    reason = _shape(name)
    return f"{reason} (see git check-ref-format)" if reason else None


def _shape(name: str) -> str | None:
    if name.startswith("-"):
        return 'starts with "-"'
    if name in ("@", "HEAD") or "@{" in name:
        return 'is "@" or "HEAD", or contains "@{"'
    if ".." in name:
        return 'contains ".."'
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return 'starts or ends with "/" or contains "//"'
    if name.endswith("."):
        return 'ends with "."'
    for part in name.split("/"):
        if part.startswith("."):
            return f'has a part starting with "." ({part!r})'
        if part.endswith(".lock"):
            return f'has a part ending in ".lock" ({part!r})'
    return None
