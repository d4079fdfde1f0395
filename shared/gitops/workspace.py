"""Commit a change to a branch and push it, surviving races: fetch, rebase (or re-apply), retry.

The clone comes from the mirror cache (a local clone: hard links, no network); only the push and
the fetch after a rejected push talk to the remote. ``Change.apply`` may be called more than once
(after a conflicting rebase it runs again on the new tip), so it must compute its edit from the
files it finds. If it raises, nothing is committed or pushed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from freightyard.shared.core.errors import MechanismError, SourceError
from freightyard.shared.core.redact import redact
from freightyard.shared.credentials import CredentialLookup, Credentials
from freightyard.shared.gitops.runner import GitRunner, GitWriteError
from freightyard.shared.gitops.trees import resolve, sync
from freightyard.shared.sources.git import GitMirrors
from freightyard.shared.sources.gitauth import split_credentials

log = logging.getLogger(__name__)
REJECTED = (
    "non-fast-forward",
    "fetch first",
    "[rejected]",
    "failed to update ref",
    "cannot lock ref",
    "stale info",
    "reference already exists",
)
DEFAULT_ATTEMPTS = 5


@dataclass(frozen=True)
class Change:
    """What to commit where. ``start_from``: the revision a missing branch starts from ("": an empty branch)."""

    repo_url: str
    branch: str
    message: str
    apply: Callable[[Path], None]
    credentials_name: str = ""
    start_from: str = ""


@dataclass(frozen=True)
class Pushed:
    """The branch head after the push (or as found, when nothing changed)."""

    commit: str
    changed: bool
    attempts: int = 1


def commit_and_push(
    mirrors: GitMirrors, runner: GitRunner, change: Change, *, attempts: int = DEFAULT_ATTEMPTS
) -> Pushed:
    """Apply ``change`` on top of its branch and push; retried ``attempts`` times on a rejected push."""
    mirror, remote = sync(mirrors, change.repo_url, change.credentials_name)
    remote_refs = remote.refs
    url = _push_url(change.repo_url)
    work = Path(tempfile.mkdtemp(prefix="freightyard-push-"))
    try:
        runner.run("clone", "--quiet", "--no-checkout", "--no-tags", str(mirror), str(work / "repo"))
        repo = work / "repo"
        if f"refs/heads/{change.branch}" in remote_refs:
            runner.run("checkout", "--quiet", "-B", change.branch, f"origin/{change.branch}", cwd=repo)
        elif change.start_from:
            _, base = resolve(mirrors, change.repo_url, change.start_from, change.credentials_name)
            runner.run("checkout", "--quiet", "-B", change.branch, base, cwd=repo)
        else:
            runner.run("checkout", "--quiet", "--orphan", change.branch, cwd=repo)
            runner.run("rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".", cwd=repo)
            runner.run("clean", "-fdq", cwd=repo)
        if not _commit(runner, repo, change):
            head = runner.run("rev-parse", "--verify", "--quiet", "HEAD", cwd=repo, check=False).text().strip()
            return Pushed(head, False)
        for attempt in range(1, attempts + 1):
            outcome = runner.run("push", "--porcelain", url, f"HEAD:refs/heads/{change.branch}", cwd=repo, check=False)
            if outcome.ok:
                return Pushed(runner.text("rev-parse", "HEAD", cwd=repo), True, attempt)
            reason = outcome.reason() + " " + outcome.text()
            if not any(marker in reason for marker in REJECTED):
                raise GitWriteError(
                    f"push to {redact(change.repo_url)} branch {change.branch} failed: {outcome.reason()}"
                )
            log.info(
                "push to %s %s rejected (attempt %d/%d): fetching and rebasing",
                redact(change.repo_url),
                change.branch,
                attempt,
                attempts,
            )
            if not _catch_up(runner, repo, url, change):
                return Pushed(runner.text("rev-parse", "HEAD", cwd=repo), False, attempt)
        raise GitWriteError(
            f"push to {redact(change.repo_url)} branch {change.branch} was rejected {attempts} "
            "times (others keep pushing); retry the promotion",
            temporary=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _commit(runner: GitRunner, repo: Path, change: Change) -> bool:
    """Apply the change and commit it; False when it changes nothing."""
    change.apply(repo)
    runner.run("add", "--all", cwd=repo)
    if runner.run("diff", "--cached", "--quiet", cwd=repo, check=False).ok:
        return False
    runner.run("commit", "--quiet", "--no-verify", "-m", change.message, cwd=repo)
    return True


def _catch_up(runner: GitRunner, repo: Path, url: str, change: Change) -> bool:
    """Put our commit on the remote's new tip; False when it became empty there (nothing left to push)."""
    runner.run(
        "fetch",
        "--quiet",
        "--no-tags",
        url,
        f"+refs/heads/{change.branch}:refs/remotes/origin/{change.branch}",
        cwd=repo,
    )
    upstream = f"origin/{change.branch}"
    rebased = runner.run("rebase", "--quiet", upstream, cwd=repo, check=False)
    if not rebased.ok:
        runner.run("rebase", "--abort", cwd=repo, check=False)
        runner.run("reset", "--quiet", "--hard", upstream, cwd=repo)
        runner.run("clean", "-fdq", cwd=repo)
        return _commit(runner, repo, change)
    ahead = runner.text("rev-list", "--count", f"{upstream}..HEAD", cwd=repo)
    return ahead != "0"


def credentials_for(repo_url: str, credentials_name: str, lookup: CredentialLookup) -> Credentials | None:
    """Credentials embedded in the URL, else the named ones, else those for the URL's host."""
    clean, embedded = split_credentials(repo_url)
    if embedded is not None:
        return embedded
    host = clean.split("://", 1)[-1].split("/", 1)[0] if "://" in clean else ""
    try:
        return lookup(credentials_name, host)
    except SourceError as error:
        raise MechanismError(error.message) from error


def _push_url(repo_url: str) -> str:
    """The URL git pushes to: credentials stripped (they travel through askpass), local paths absolute."""
    clean, _ = split_credentials(repo_url)
    if "://" in clean or clean.startswith("git@"):
        return clean
    path = Path(clean).expanduser().resolve()
    if not path.exists():
        raise MechanismError(f"git repository {clean} does not exist")
    return str(path)
