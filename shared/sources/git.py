"""Git discovery through the ``git`` CLI, from a local bare mirror of each remote.

Each sync starts by reading the remote's ref advertisement — in-process for ``http(s)://`` and
``git://`` remotes (``gitrefs``), with ``git ls-remote`` for file paths, ssh, and as the fallback
when the in-process read cannot get an answer. The ref map is stored beside the mirror, so an
unchanged remote costs that one round trip and nothing else. A changed remote is fetched
incrementally and its commit-graph (with changed-path Bloom filters) rewritten, which keeps
``git log -- PATH`` fast in large monorepos. Answers are memoised per ref state: asking again
about an unchanged repository runs no ``git log`` at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Commit
from freightyard.shared.core.model import GitSubscription
from freightyard.shared.core.redact import redact
from freightyard.shared.core.selection import filter_tags, semver_order
from freightyard.shared.core.semverc import ConstraintError
from freightyard.shared.credentials import CredentialLookup, Credentials, no_credentials
from freightyard.shared.process import ProcessError, Request, run
from freightyard.shared.sources.gitauth import askpass_env, split_credentials
from freightyard.shared.sources.gitpaths import is_simple, paths_match, pathspecs

if TYPE_CHECKING:
    from collections.abc import Iterator

    from freightyard.shared.sources.http import HttpClient

FIELD = "\x1f"
RECORD = "\x1e"
MAX_SCAN = 2000  # commits read when paths need filtering in Python (glob/regex)
LOG_FORMAT = f"--format={RECORD}%H{FIELD}%an{FIELD}%cI{FIELD}%s"
MEMO_SIZE = 256
CLI_ONLY_SECONDS = 600.0  # after the git CLI answered where the in-process read could not, use the CLI this long


@dataclass(frozen=True)
class RemoteRefs:
    """What ``ls-remote`` said: ref -> sha (peeled tags under ``ref^{}``) and the default branch."""

    refs: dict[str, str]
    head: str = ""  # "main"

    def to_json(self) -> str:
        return json.dumps({"head": self.head, "refs": self.refs}, sort_keys=True)


def parse_ls_remote(text: str) -> RemoteRefs:
    refs: dict[str, str] = {}
    head = ""
    for line in text.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: ") and name == "HEAD":
            head = left[len("ref: ") :].removeprefix("refs/heads/")
        elif name and left:
            refs[name] = left
    return RemoteRefs(refs, head)


@dataclass
class GitMirrors:
    """Bare mirrors of remotes under ``cache_dir``; one per repo URL (credentials stripped).

    ``http`` is the client for smart-HTTP ref checks (made on first use: keep-alive between checks);
    ``native_refs`` off makes every check a ``git ls-remote``.
    """

    cache_dir: Path
    timeout: float = 120.0
    credentials: CredentialLookup = no_credentials
    round_trips: int = 0  # network operations performed (ref checks, fetches): for tests and the bench
    http: HttpClient | None = field(default=None, repr=False)
    native_refs: bool = True
    _cli_only: dict[str, float] = field(default_factory=dict, repr=False)  # url -> monotonic time of fallback
    _stored_memo: dict[Path, tuple[tuple[int, int, int], RemoteRefs]] = field(default_factory=dict, repr=False)

    def path_for(self, repo_url: str) -> Path:
        clean, _ = split_credentials(repo_url)
        return self.cache_dir / "git" / (hashlib.sha1(clean.encode(), usedforsecurity=False).hexdigest()[:16] + ".git")

    def git(
        self, *args: str, cwd: Path | None = None, timeout: float | None = None, credentials: Credentials | None = None
    ) -> str:
        env = {"LC_ALL": "C", **askpass_env(self.cache_dir, credentials)}
        secrets = (credentials.password,) if credentials and credentials.password else ()
        request = Request(
            ("git", "-c", "credential.helper=", *args),
            cwd=str(cwd) if cwd else None,
            timeout=timeout or self.timeout,
            env=env,
            secrets=secrets,
        )
        try:
            outcome = run(request)
        except ProcessError as error:
            raise SourceError(redact(str(error), secrets), temporary=True) from error
        if not outcome.ok:
            raise SourceError(f"{request.shown}: {outcome.reason()}")
        return outcome.text()

    def sync(self, repo_url: str, credentials_name: str = "", *, insecure: bool = False) -> tuple[Path, RemoteRefs]:
        """Bring the mirror of ``repo_url`` up to date (fetching only when refs moved); path and refs.

        ``insecure``: do not verify the remote's TLS certificate (the subscription's insecureSkipTLSVerify).
        """
        url, embedded = split_credentials(_fetchable(repo_url))
        host = url.split("://", 1)[-1].split("/", 1)[0] if "://" in url else ""
        credentials = embedded or self.credentials(credentials_name, host)
        path = self.path_for(repo_url)
        remote = self.remote_refs(url, credentials, repo_url=repo_url, insecure=insecure)
        if path.exists() and self._stored(path) == remote:
            return path, remote
        with _exclusive(path):
            return self._fetch(path, url, repo_url, remote, credentials, insecure=insecure)

    def _fetch(
        self,
        path: Path,
        url: str,
        repo_url: str,
        remote: RemoteRefs,
        credentials: Credentials | None,
        *,
        insecure: bool,
    ) -> tuple[Path, RemoteRefs]:
        if path.exists() and self._stored(path) == remote:
            return path, remote  # another process fetched while we waited for the lock
        tls = ("-c", "http.sslVerify=false") if insecure else ()
        if path.exists() and not (path / "HEAD").is_file():
            shutil.rmtree(path, ignore_errors=True)  # an `init` cut short: start the mirror again
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                self.git("init", "--quiet", "--bare", str(path))
            self.round_trips += 1
            self.git(
                *tls,
                "fetch",
                "--prune",
                "--quiet",
                "--no-tags",
                url,
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
                cwd=path,
                credentials=credentials,
            )
        except SourceError as error:
            raise _remote_error(repo_url, error) from error
        if remote.head:
            self.git("symbolic-ref", "HEAD", f"refs/heads/{remote.head}", cwd=path)
        self.git("commit-graph", "write", "--reachable", "--changed-paths", cwd=path)
        _write_atomic(_refs_file(path), remote.to_json())
        return path, remote

    def remote_refs(
        self, url: str, credentials: Credentials | None, *, repo_url: str = "", insecure: bool = False
    ) -> RemoteRefs:
        """The refs of ``url`` (credentials split out): read in-process where possible, else ``git ls-remote``."""
        from freightyard.shared.sources import gitrefs

        shown_url = repo_url or url
        self.round_trips += 1
        native_error: gitrefs.RefsError | None = None
        if self.native_refs and gitrefs.supports(url) and not self._cli_only_now(url):
            try:
                found = gitrefs.read_refs(
                    url, credentials, http=self._http, timeout=min(self.timeout, 30.0), verify=not insecure
                )
            except gitrefs.RefsError as error:
                if error.final:
                    raise _remote_error(shown_url, SourceError(f"remote: {error.reason}")) from error
                native_error = error
                self.round_trips += 1  # the git CLI asks again
            else:
                return RemoteRefs(found.refs, found.head)
        tls = ("-c", "http.sslVerify=false") if insecure else ()
        try:
            # Protocol v0: the ref advertisement is the whole answer (one request/connection; v2 needs two).
            refs = parse_ls_remote(
                self.git(*tls, "-c", "protocol.version=0", "ls-remote", "--symref", url, credentials=credentials)
            )
        except SourceError as error:
            raise _remote_error(shown_url, error) from error
        if native_error is not None:
            self._cli_only[url] = time.monotonic()
        return refs

    def _cli_only_now(self, url: str) -> bool:
        since = self._cli_only.get(url)
        if since is None:
            return False
        if time.monotonic() - since < CLI_ONLY_SECONDS:
            return True
        del self._cli_only[url]
        return False

    def _http(self) -> HttpClient:
        if self.http is None:
            from freightyard.shared.sources.http import HttpClient

            # A ref check retries little: the git CLI fallback (and the next interval) come next.
            self.http = HttpClient(timeout=min(self.timeout, 30.0), retries=1, max_wait=5.0)
        return self.http

    def _stored(self, path: Path) -> RemoteRefs | None:
        refs_file = _refs_file(path)
        try:
            info = refs_file.stat()
        except OSError:
            return None
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)  # rewritten by another process: read again
        memo = self._stored_memo.get(path)
        if memo is not None and memo[0] == stamp:
            return memo[1]
        try:
            data = json.loads(refs_file.read_text())
            refs = RemoteRefs(dict(data["refs"]), str(data.get("head", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self._stored_memo[path] = (stamp, refs)
        return refs


def _refs_file(mirror: Path) -> Path:
    return mirror.with_name(mirror.name + ".refs.json")


@contextlib.contextmanager
def _exclusive(mirror: Path) -> Iterator[None]:
    """Hold the mirror's own lock (an ``flock`` the kernel drops when a process dies) while it is
    written. Every writer takes it, so git's ``*.lock`` files found under it were left by a process
    killed mid-fetch (a crashed pod, SIGKILL); git would refuse every later fetch until someone
    removed them by hand, so they are removed here."""
    mirror.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(mirror.with_name(mirror.name + ".freightyard-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if mirror.is_dir():
            for pattern in ("*.lock", "refs/**/*.lock", "objects/info/**/*.lock"):
                for stale in mirror.glob(pattern):
                    with contextlib.suppress(OSError):
                        stale.unlink()
        yield
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _remote_error(repo_url: str, error: SourceError) -> SourceError:
    reason = error.message.split(": ", 1)[-1]
    low = reason.lower()
    shown = redact(split_credentials(repo_url)[0])
    if "authentication failed" in low or "could not read username" in low or "403" in low:
        return SourceError(
            f"git repository {shown}: authentication failed; set credentials on the "
            "subscription (env vars or a mounted Secret) or check them"
        )
    if "not found" in low or "does not appear to be a git repository" in low or "no such repository" in low:
        return SourceError(f"git repository {shown}: repository not found; check repoURL")
    return SourceError(f"git repository {shown}: {reason} (check the URL, network and credentials)", temporary=True)


def _fetchable(repo_url: str) -> str:
    if "://" in repo_url or repo_url.startswith("git@"):
        return repo_url
    return str(Path(repo_url).expanduser().resolve())


@dataclass
class GitCliSource:
    mirrors: GitMirrors
    _memo: dict[str, list[Commit]] = field(default_factory=dict, repr=False)

    def commits(self, sub: GitSubscription, limit: int) -> list[Commit]:
        mirror, remote = self.mirrors.sync(sub.repo_url, sub.credentials_secret, insecure=sub.insecure_skip_tls_verify)
        key = hashlib.sha1(f"{mirror}|{remote.to_json()}|{sub!r}|{limit}".encode(), usedforsecurity=False).hexdigest()
        if key in self._memo:
            return list(self._memo[key])
        if sub.strategy == "NewestFromBranch":
            found = self._branch_commits(mirror, remote, sub, limit)
        elif sub.strategy in ("SemVer", "Lexical", "NewestTag"):
            found = self._tag_commits(mirror, sub, limit)
        else:
            raise SourceError(
                f"git {redact(sub.repo_url)}: unknown commitSelectionStrategy {sub.strategy!r} "
                "(use NewestFromBranch, SemVer, Lexical or NewestTag)"
            )
        if len(self._memo) >= MEMO_SIZE:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread (other repo) pruned
                self._memo.pop(next(iter(self._memo)))
        self._memo[key] = found
        return list(found)

    def _branch_commits(self, mirror: Path, remote: RemoteRefs, sub: GitSubscription, limit: int) -> list[Commit]:
        branch = sub.branch or remote.head or "main"
        ref = f"refs/heads/{branch}"
        if ref not in remote.refs:
            known = (
                ", ".join(
                    sorted(r.removeprefix("refs/heads/") for r in remote.refs if r.startswith("refs/heads/"))[:10]
                )
                or "none"
            )
            raise SourceError(f"git repository {redact(sub.repo_url)} has no branch {branch!r} (branches: {known})")
        if is_simple(sub.include_paths, sub.exclude_paths):
            out = self.mirrors.git(
                "log", LOG_FORMAT, f"-n{limit}", ref, "--", *pathspecs(sub.include_paths, sub.exclude_paths), cwd=mirror
            )
            return [self._commit(sub, branch, record) for record in out.split(RECORD) if record.strip()]
        out = self.mirrors.git("log", LOG_FORMAT, "--name-only", f"-n{MAX_SCAN}", ref, cwd=mirror)
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
        sha, author, when, subject = [*record.strip("\n").split(FIELD), "", "", ""][:4]
        return Commit(
            repo_url=sub.repo_url,
            id=sha,
            branch=branch if not tag else "",
            tag=tag,
            message=subject[:200],
            author=author,
            committed_at=when,
        )

    def _tag_commits(self, mirror: Path, sub: GitSubscription, limit: int) -> list[Commit]:
        out = self.mirrors.git(
            "for-each-ref",
            "refs/tags",
            f"--format=%(refname:short){FIELD}%(objectname){FIELD}%(*objectname){FIELD}%(creatordate:unix)",
            cwd=mirror,
        )
        tags: dict[str, tuple[str, int]] = {}
        for line in out.splitlines():
            name, obj, peeled, created = line.split(FIELD)
            tags[name] = (peeled or obj, int(created or 0))
        try:
            kept = filter_tags(
                list(tags), sub.allow_tags, sub.ignore_tags, (sub.allow_tags_regexes, sub.ignore_tags_regexes)
            )
            if sub.strategy == "SemVer":
                ordered = semver_order(kept, sub.semver_constraint, sub.strict_semvers)
            elif sub.strategy == "Lexical":
                ordered = sorted(kept, reverse=True)
            else:  # NewestTag
                ordered = sorted(kept, key=lambda t: (tags[t][1], t), reverse=True)
        except (ConstraintError, ValueError) as error:
            raise SourceError(f"git {redact(sub.repo_url)}: {error}") from error
        chosen = ordered[:limit]
        if not chosen:
            return []
        out = self.mirrors.git("log", "--no-walk=unsorted", LOG_FORMAT, *(tags[t][0] for t in chosen), cwd=mirror)
        records = [r for r in out.split(RECORD) if r.strip()]
        by_sha = {r.split(FIELD, 1)[0].strip(): r for r in records}
        return [self._commit(sub, "", by_sha[tags[t][0]], tag=t) for t in chosen if tags[t][0] in by_sha]


def default_cache_dir() -> Path:
    base = os.environ.get("FREIGHTYARD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "freightyard"
    )
    return Path(base).expanduser()
