"""In-process ref advertisements against the real ``git http-backend`` and ``git daemon``: same as ``ls-remote``."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from freightyard.shared.core.errors import SourceError
from freightyard.shared.credentials import Credentials, EnvFileCredentials
from freightyard.shared.sources.git import GitMirrors, RemoteRefs, parse_ls_remote
from freightyard.shared.sources.gitrefs import daemon_refs, http_refs
from freightyard.shared.sources.http import HttpClient, Response
from freightyard.shared.sources.pktline import FLUSH, encode
from tests.servers.git_daemon import GitDaemon
from tests.servers.git_http import GitHttpServer, commit_files, git, init_bare_repo

pytestmark = pytest.mark.integration
_names = (f"refs{i}.git" for i in itertools.count())


def busy_repo(root: Path, name: str) -> Path:
    """Two branches (HEAD on ``trunk``), annotated and lightweight tags, a ref outside heads/tags."""
    bare = init_bare_repo(root, name, {"a": "1"}, branch="trunk")
    first = git("--git-dir", str(bare), "rev-parse", "trunk")
    commit_files(bare, {"b": "1"}, branch="feature/x", message="feature")
    second = commit_files(bare, {"a": "2"}, branch="trunk", message="two")
    git("--git-dir", str(bare), "tag", "-a", "-m", "annotated", "v1.0.0", first)
    git("--git-dir", str(bare), "tag", "v1.1.0", second)
    git("--git-dir", str(bare), "update-ref", "refs/notes/commits", second)
    return bare


def ls_remote(url: str) -> RemoteRefs:
    return parse_ls_remote(git("-c", "protocol.version=0", "ls-remote", "--symref", url) + "\n")


def mirrors(tmp_path: Path, env: Mapping[str, str] | None = None, http: HttpClient | None = None) -> GitMirrors:
    return GitMirrors(
        tmp_path / "cache", credentials=EnvFileCredentials(env=dict(env or {}), secrets_dir=None), http=http
    )


def no_cli_ref_checks(target: GitMirrors, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Record git invocations; fail the test if a ref check falls back to ``git ls-remote``."""
    calls: list[tuple[str, ...]] = []
    real = target.git

    def spy(*args: str, **kwargs: object) -> str:
        calls.append(args)
        assert "ls-remote" not in args, "fell back to git ls-remote"
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(target, "git", spy)
    return calls


def test_smart_http_refs_equal_ls_remote(git_http_server: GitHttpServer) -> None:
    name = next(_names)
    busy_repo(git_http_server.root, name)
    url = git_http_server.repo_url(name)
    native = http_refs(url, None, HttpClient())
    expected = ls_remote(url)
    assert (native.refs, native.head) == (expected.refs, expected.head)
    assert native.head == "trunk" and "refs/tags/v1.0.0^{}" in native.refs and "refs/notes/commits" in native.refs


def test_daemon_refs_equal_ls_remote(git_daemon: GitDaemon) -> None:
    name = next(_names)
    busy_repo(git_daemon.base_path, name)
    url = git_daemon.repo_url(name)
    native = daemon_refs(url, timeout=10)
    expected = ls_remote(url)
    assert (native.refs, native.head) == (expected.refs, expected.head)
    assert native.refs["refs/tags/v1.0.0^{}"] != native.refs["refs/tags/v1.0.0"]  # the tag object, then its commit


def test_empty_repositories_equal_ls_remote(git_http_server: GitHttpServer, git_daemon: GitDaemon) -> None:
    name = next(_names)
    init_bare_repo(git_http_server.root, name)
    init_bare_repo(git_daemon.base_path, name)
    for native, url in (
        (http_refs(git_http_server.repo_url(name), None, HttpClient()), git_http_server.repo_url(name)),
        (daemon_refs(git_daemon.repo_url(name), timeout=10), git_daemon.repo_url(name)),
    ):
        expected = ls_remote(url)
        assert (native.refs, native.head) == (expected.refs, expected.head) == ({}, "")


def test_sync_uses_no_git_process_for_an_unchanged_remote(
    git_http_server: GitHttpServer, git_daemon: GitDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = next(_names)
    busy_repo(git_http_server.root, name)
    busy_repo(git_daemon.base_path, name)
    target = mirrors(tmp_path)
    calls = no_cli_ref_checks(target, monkeypatch)
    for url in (git_http_server.repo_url(name), git_daemon.repo_url(name)):
        path, refs = target.sync(url)
        assert refs == ls_remote(url)
        calls.clear()
        assert target.sync(url) == (path, refs)
        assert calls == []  # the ref check was the whole cost


def test_auth_refs_equal_ls_remote_and_failures_are_one_redacted_error(
    git_http_server_auth: GitHttpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = git_http_server_auth
    name = next(_names)
    busy_repo(server.root, name)
    url = server.repo_url(name)
    password = server.password or ""
    good = Credentials(server.username or "", password)
    native = http_refs(url, good, HttpClient())
    expected = ls_remote(server.repo_url_with_auth(name))
    assert (native.refs, native.head) == (expected.refs, expected.head)

    env = {"GITCREDS_USERNAME": server.username or "", "GITCREDS_PASSWORD": password}
    target = mirrors(tmp_path, env)
    no_cli_ref_checks(target, monkeypatch)
    assert target.sync(url, "gitcreds")[1] == expected
    wrong = server.repo_url_with_auth(name).replace(password, "wrong-secret-value")
    for attempt in (url, wrong):
        with pytest.raises(SourceError) as caught:
            target.sync(attempt)
        message = caught.value.message
        assert message == (
            f"git repository {url}: authentication failed; set credentials on the subscription "
            "(env vars or a mounted Secret) or check them"
        )
        assert not caught.value.temporary
    logged = caplog.text + repr(target)
    assert password not in logged and "wrong-secret-value" not in logged


def test_unknown_repository_is_not_found_without_fallback(
    git_http_server: GitHttpServer, git_daemon: GitDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = mirrors(tmp_path)
    no_cli_ref_checks(target, monkeypatch)
    for url in (git_http_server.repo_url("missing.git"), git_daemon.repo_url("missing.git")):
        with pytest.raises(SourceError, match=r": repository not found; check repoURL$"):
            target.sync(url)


class FixedTransport:
    """Answers every request with one response; records what ``verify`` was asked for."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.reply = (status, content_type, body)
        self.verify: list[bool] = []

    def send(self, method: str, url: str, headers: Mapping[str, str], timeout: float, verify: bool) -> Response:
        self.verify.append(verify)
        status, kind, body = self.reply
        return Response(status, {"content-type": kind}, body, url)


def test_fallback_to_ls_remote_when_the_server_is_not_smart(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    name = next(_names)
    busy_repo(git_http_server.root, name)
    url = git_http_server.repo_url(name)
    dumb = FixedTransport(200, "text/plain", b"")  # what a dumb-HTTP server answers
    target = mirrors(tmp_path, http=HttpClient(transport=dumb))
    assert target.sync(url)[1] == ls_remote(url)  # answered by git ls-remote against the real server
    assert len(dumb.verify) == 1
    target.sync(url)
    assert len(dumb.verify) == 1  # the CLI keeps answering for this remote for a while


def test_tls_verification_follows_the_subscription(tmp_path: Path) -> None:
    sha = "a" * 40
    body = (
        encode(b"# service=git-upload-pack\n")
        + FLUSH
        + encode(f"{sha} HEAD\0symref=HEAD:refs/heads/main\n".encode())
        + encode(f"{sha} refs/heads/main\n".encode())
        + FLUSH
    )
    transport = FixedTransport(200, "application/x-git-upload-pack-advertisement", body)
    target = mirrors(tmp_path, http=HttpClient(transport=transport))
    expected = RemoteRefs({"HEAD": sha, "refs/heads/main": sha}, "main")
    assert target.remote_refs("https://git.example.invalid/r.git", None) == expected
    assert target.remote_refs("https://git.example.invalid/r.git", None, insecure=True) == expected
    assert transport.verify == [True, False]
