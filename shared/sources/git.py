"""Git discovery through the ``git`` CLI, from a local bare mirror of each remote.

The mirror lives under the cache directory and is fetched incrementally; commits are listed
with ``git log`` (paths filtered by git itself when they are plain prefixes).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from shared.errors import SourceError
from shared.freight import Commit
from shared.model import GitSubscription
from shared.process import ProcessError, Request, run
from shared.redact import redact
from shared.semverc import parse_constraint, parse_version, satisfies

FIELD = "\x1f"
RECORD = "\x1e"
MAX_SCAN = 2000  # commits read when paths need filtering in Python (glob/regex/excludes)


@dataclass
class GitMirrors:
    """Bare mirrors of remotes under ``cache_dir``; one per repo URL."""

    cache_dir: Path
    timeout: float = 120.0

    def path_for(self, repo_url: str) -> Path:
        return self.cache_dir / "git" / (hashlib.sha1(repo_url.encode()).hexdigest()[:16] + ".git")

    def git(self, *args: str, cwd: Path | None = None, timeout: float | None = None) -> str:
        request = Request(("git", *args), cwd=str(cwd) if cwd else None, timeout=timeout or self.timeout,
                          env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        try:
            outcome = run(request)
        except ProcessError as error:
            raise SourceError(redact(str(error)), temporary=True) from error
        if not outcome.ok:
            raise SourceError(f"{request.shown}: {outcome.reason()}")
        return outcome.text()

    def sync(self, repo_url: str) -> Path:
        """Create or fetch the mirror of ``repo_url``; returns its path."""
        path = self.path_for(repo_url)
        url = _fetchable(repo_url)
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                self.git("clone", "--mirror", "--quiet", url, str(path))
            else:
                self.git("fetch", "--prune", "--quiet", "--tags", "origin", "+refs/heads/*:refs/heads/*",
                         cwd=path)
        except SourceError as error:
            raise SourceError(f"git repository {redact(repo_url)}: {error.message.split(': ', 1)[-1]} "
                              "(check the URL, network and credentials)", temporary=True) from error
        return path


def _fetchable(repo_url: str) -> str:
    if "://" in repo_url or repo_url.startswith("git@"):
        return repo_url
    return str(Path(repo_url).expanduser().resolve())


@dataclass
class GitCliSource:
    mirrors: GitMirrors

    def commits(self, sub: GitSubscription, limit: int) -> list[Commit]:
        mirror = self.mirrors.sync(sub.repo_url)
        if sub.strategy == "NewestFromBranch":
            return self._branch_commits(mirror, sub, limit)
        return self._tag_commits(mirror, sub, limit)

    def default_branch(self, mirror: Path) -> str:
        head = self.mirrors.git("symbolic-ref", "--quiet", "HEAD", cwd=mirror).strip()
        return head.removeprefix("refs/heads/")

    def _branch_commits(self, mirror: Path, sub: GitSubscription, limit: int) -> list[Commit]:
        branch = sub.branch or self.default_branch(mirror)
        ref = f"refs/heads/{branch}"
        simple = all(not p.startswith(("glob:", "regex:")) for p in sub.include_paths) and not sub.exclude_paths
        fmt = f"--format={RECORD}%H{FIELD}%an{FIELD}%cI{FIELD}%s"
        try:
            if simple:
                out = self.mirrors.git("log", fmt, f"-n{limit}", ref, "--", *sub.include_paths, cwd=mirror)
                return [self._commit(sub, branch, record) for record in out.split(RECORD) if record.strip()]
            out = self.mirrors.git("log", fmt, "--name-only", f"-n{MAX_SCAN}", ref, cwd=mirror)
        except SourceError as error:
            if "unknown revision" in error.message or "bad revision" in error.message:
                raise SourceError(f"git repository {redact(sub.repo_url)} has no branch {branch!r}") from error
            raise
        found = []
        for record in out.split(RECORD):
            if not record.strip():
                continue
            header, _, names = record.partition("\n")
            files = [n for n in names.splitlines() if n]
            if files and paths_match(files, sub.include_paths, sub.exclude_paths):
                found.append(self._commit(sub, branch, header))
                if len(found) >= limit:
                    break
        return found

    def _commit(self, sub: GitSubscription, branch: str, record: str, tag: str = "") -> Commit:
        sha, author, when, subject = (record.strip("\n").split(FIELD) + ["", "", ""])[:4]
        return Commit(repo_url=sub.repo_url, id=sha, branch=branch if not tag else "", tag=tag,
                      message=subject[:200], author=author, committed_at=when)

    def _tag_commits(self, mirror: Path, sub: GitSubscription, limit: int) -> list[Commit]:
        out = self.mirrors.git("for-each-ref", "refs/tags",
                               f"--format=%(refname:short){FIELD}%(objectname){FIELD}%(*objectname)"
                               f"{FIELD}%(creatordate:unix)", cwd=mirror)
        tags = []
        allow = re.compile(sub.allow_tags) if sub.allow_tags else None
        for line in out.splitlines():
            name, obj, peeled, created = line.split(FIELD)
            if allow and not allow.search(name):
                continue
            if any(re.fullmatch(p, name) or p == name for p in sub.ignore_tags):
                continue
            tags.append((name, peeled or obj, int(created or 0)))
        if sub.strategy == "SemVer":
            constraint = parse_constraint(sub.semver_constraint) if sub.semver_constraint else None
            versioned = [(v, t) for t in tags if (v := parse_version(t[0])) is not None
                         and (constraint is None or satisfies(v, constraint))]
            versioned.sort(key=lambda vt: vt[0], reverse=True)
            ordered = [t for _, t in versioned]
        elif sub.strategy == "Lexical":
            ordered = sorted(tags, key=lambda t: t[0], reverse=True)
        else:  # NewestTag
            ordered = sorted(tags, key=lambda t: (t[2], t[0]), reverse=True)
        commits = []
        for name, sha, _ in ordered[:limit]:
            record = self.mirrors.git("log", "-1", f"--format=%H{FIELD}%an{FIELD}%cI{FIELD}%s", sha, cwd=mirror)
            commits.append(self._commit(sub, "", record, tag=name))
        return commits


def paths_match(files: list[str], include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """True when some changed file is included and not excluded (prefix, ``glob:`` or ``regex:``)."""
    return any((not include or any(_matches(f, p) for p in include)) and not any(_matches(f, p) for p in exclude)
               for f in files)


def _matches(path: str, pattern: str) -> bool:
    if pattern.startswith("glob:"):
        return fnmatch.fnmatchcase(path, pattern[len("glob:"):])
    if pattern.startswith("regex:"):
        return re.search(pattern[len("regex:"):], path) is not None
    return path == pattern.rstrip("/") or path.startswith(pattern.rstrip("/") + "/") or pattern in ("", ".", "/")


def default_cache_dir() -> Path:
    base = os.environ.get("FREIGHTYARD_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"),
                                                               "freightyard")
    return Path(base).expanduser()
