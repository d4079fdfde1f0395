"""Files of one commit, copied out of the bare mirror cache (never a working copy of the remote)."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from freightyard.shared.core.errors import MechanismError, SourceError
from freightyard.shared.core.redact import redact
from freightyard.shared.process import ProcessError, Request, run
from freightyard.shared.sources.git import GitMirrors, RemoteRefs
from freightyard.shared.sources.gitauth import split_credentials


@dataclass(frozen=True)
class Tree:
    """A commit's files under ``root``; ``commit`` is the full SHA the revision resolved to."""

    root: Path
    commit: str


def sync(mirrors: GitMirrors, repo_url: str, credentials_name: str = "") -> tuple[Path, RemoteRefs]:
    """Bring the mirror of ``repo_url`` up to date; its path and the remote's refs."""
    try:
        return mirrors.sync(repo_url, credentials_name)
    except SourceError as error:
        raise MechanismError(error.message, temporary=error.temporary) from error


def resolve(mirrors: GitMirrors, repo_url: str, revision: str = "", credentials_name: str = "") -> tuple[Path, str]:
    """Sync the mirror of ``repo_url`` and resolve ``revision`` (SHA, branch, tag; "" or HEAD: default branch)."""
    mirror, remote = sync(mirrors, repo_url, credentials_name)
    wanted = revision or "HEAD"
    candidates = [wanted] if wanted == "HEAD" else [f"refs/heads/{wanted}", f"refs/tags/{wanted}", wanted]
    for candidate in candidates:
        try:
            sha = mirrors.git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", cwd=mirror).strip()
        except SourceError:
            continue
        if sha:
            return mirror, sha
    raise MechanismError(
        f"git repository {_shown(repo_url)} has no revision {wanted!r}"
        + (f" (default branch: {remote.head})" if remote.head else "")
    )


def export_tree(
    mirrors: GitMirrors,
    repo_url: str,
    revision: str,
    dest: Path,
    *,
    credentials_name: str = "",
    paths: tuple[str, ...] = (),
) -> Tree:
    """Write the files of ``revision`` (only ``paths`` when given) into the empty directory ``dest``."""
    mirror, sha = resolve(mirrors, repo_url, revision, credentials_name)
    request = Request(
        ("git", "archive", "--format=tar", sha, "--", *paths),
        cwd=str(mirror),
        timeout=mirrors.timeout,
        env={"LC_ALL": "C"},
    )
    try:
        outcome = run(request)
    except ProcessError as error:
        raise MechanismError(f"git archive {sha[:7]}: {error}", temporary=True) from error
    if not outcome.ok:
        raise MechanismError(
            f"git repository {_shown(repo_url)}: cannot read {', '.join(paths) or 'the tree'} "
            f"at {sha[:7]}: {outcome.reason()}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(outcome.out), mode="r:") as archive:
        archive.extractall(dest, filter="data")
    return Tree(dest, sha)


def _shown(repo_url: str) -> str:
    return redact(split_credentials(repo_url)[0])
