"""Git discovery against real remotes: ``git http-backend`` (with and without basic auth) and ``git daemon``."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.model import GitSubscription
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.sources.git import GitCliSource, GitMirrors
from tests.servers.git_daemon import GitDaemon
from tests.servers.git_http import GitHttpServer, commit_files, git

pytestmark = pytest.mark.integration
_names = (f"repo{i}.git" for i in itertools.count())


def source(tmp_path: Path, env: dict[str, str] | None = None) -> GitCliSource:
    return GitCliSource(GitMirrors(tmp_path / "cache", credentials=EnvFileCredentials(env=env or {}, secrets_dir=None)))


def test_branch_paths_and_one_round_trip_when_unchanged(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    name = next(_names)
    bare = git_http_server.create_repo(name, {"apps/a/k.yaml": "1", "apps/b/k.yaml": "1"}, branch="trunk")
    a1 = commit_files(bare, {"apps/a/k.yaml": "2"}, branch="trunk", message="a: two")
    commit_files(bare, {"apps/a/docs/r.md": "x"}, branch="trunk", message="a docs")
    b1 = commit_files(bare, {"apps/b/k.yaml": "2"}, branch="trunk", message="b: two")
    src = source(tmp_path)
    url = git_http_server.repo_url(name)

    head = src.commits(GitSubscription(url), 1)
    assert [(c.id, c.branch, c.message) for c in head] == [(b1, "trunk", "b: two")]  # default branch
    only_a = GitSubscription(url, include_paths=("apps/a/",), exclude_paths=("apps/a/docs/",))
    assert [c.id for c in src.commits(only_a, 1)] == [a1]
    glob = GitSubscription(url, include_paths=("glob:apps/*/k.yaml",), exclude_paths=("regex:^apps/b/",))
    assert [c.id for c in src.commits(glob, 1)] == [a1]

    trips = src.mirrors.round_trips
    assert [c.id for c in src.commits(only_a, 1)] == [a1]
    assert src.mirrors.round_trips - trips == 1  # ls-remote only: the remote did not move

    a2 = commit_files(bare, {"apps/a/k.yaml": "3"}, branch="trunk", message="a: three")
    trips = src.mirrors.round_trips
    assert [c.id for c in src.commits(only_a, 2)] == [a2, a1]
    assert src.mirrors.round_trips - trips == 2  # ls-remote, then an incremental fetch
    assert (tmp_path / "cache" / "git").is_dir()

    with pytest.raises(SourceError, match=r"has no branch 'nope' \(branches: trunk\)"):
        src.commits(GitSubscription(url, branch="nope"), 1)


def test_tag_strategies(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    name = next(_names)
    bare = git_http_server.create_repo(name, {"f": "0"})
    shas = {}
    for tag in ("v1.2.0", "v1.10.0", "v2.0.0-rc.1", "release-b", "release-a"):
        shas[tag] = commit_files(bare, {"f": tag}, message=f"for {tag}")
        git("--git-dir", str(bare), "tag", "-a", "-m", tag, tag, shas[tag])
    src = source(tmp_path)
    url = git_http_server.repo_url(name)
    semver = src.commits(GitSubscription(url, strategy="SemVer", semver_constraint="^1"), 2)
    assert [(c.tag, c.id) for c in semver] == [("v1.10.0", shas["v1.10.0"]), ("v1.2.0", shas["v1.2.0"])]
    lexical = src.commits(GitSubscription(url, strategy="Lexical", allow_tags="^release-"), 1)
    assert [(c.tag, c.id) for c in lexical] == [("release-b", shas["release-b"])]
    newest = src.commits(GitSubscription(url, strategy="NewestTag", ignore_tags=("release-.*",)), 1)
    assert newest[0].tag in ("v2.0.0-rc.1", "v1.10.0", "v1.2.0")  # creator dates may tie within a second
    assert src.commits(GitSubscription(url, strategy="SemVer", semver_constraint="^5"), 1) == []
    git("--git-dir", str(bare), "tag", "-f", "-a", "-m", "moved", "v1.10.0", shas["v1.2.0"])
    moved = src.commits(GitSubscription(url, strategy="SemVer", semver_constraint="^1"), 1)
    assert (moved[0].tag, moved[0].id) == ("v1.10.0", shas["v1.2.0"])  # a moved tag is seen


def test_git_tags_parse_strictly_unless_strict_semvers_is_false(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    name = next(_names)
    bare = git_http_server.create_repo(name, {"f": "0"})
    for tag in ("v2.0.0", "v2.1", "v3", "v2.2.0-rc.1"):
        git("--git-dir", str(bare), "tag", tag, commit_files(bare, {"f": tag}, message=tag))
    src = source(tmp_path)
    url = git_http_server.repo_url(name)
    strict = src.commits(GitSubscription(url, strategy="SemVer"), 5)
    assert [c.tag for c in strict] == ["v2.2.0-rc.1", "v2.0.0"]  # Kargo's default: "v3", "v2.1" are not versions
    lenient = src.commits(GitSubscription(url, strategy="SemVer", strict_semvers=False), 5)
    assert [c.tag for c in lenient] == ["v3", "v2.2.0-rc.1", "v2.1", "v2.0.0"]
    releases = src.commits(GitSubscription(url, strategy="SemVer", semver_constraint="^2"), 5)
    assert [c.tag for c in releases] == ["v2.0.0"]  # a constraint without "-" leaves pre-releases out


def test_credentials_by_askpass_never_in_errors_or_mirror(git_http_server_auth: GitHttpServer, tmp_path: Path) -> None:
    name = next(_names)
    bare = git_http_server_auth.create_repo(name, {"f": "1"})
    sha = git("--git-dir", str(bare), "rev-parse", "HEAD")
    password = git_http_server_auth.password or ""
    url = git_http_server_auth.repo_url(name)
    env = {"GITCREDS_USERNAME": git_http_server_auth.username or "", "GITCREDS_PASSWORD": password}
    src = source(tmp_path, env)
    assert [c.id for c in src.commits(GitSubscription(url, credentials_secret="gitcreds"), 1)] == [sha]
    embedded = source(tmp_path / "b").commits(GitSubscription(git_http_server_auth.repo_url_with_auth(name)), 1)
    assert [c.id for c in embedded] == [sha]
    for config in (tmp_path / "cache").rglob("config"):
        assert password not in config.read_text()

    with pytest.raises(SourceError, match=r"authentication failed; set credentials") as caught:
        source(tmp_path / "c").commits(GitSubscription(url), 1)
    wrong = git_http_server_auth.repo_url_with_auth(name).replace(password, "wrong-secret-value")
    with pytest.raises(SourceError) as caught:
        source(tmp_path / "d").commits(GitSubscription(wrong), 1)
    assert "wrong-secret-value" not in caught.value.message and "authentication failed" in caught.value.message


def test_git_daemon_remote_and_unknown_repo(git_daemon: GitDaemon, tmp_path: Path) -> None:
    from tests.servers.git_http import init_bare_repo

    bare = init_bare_repo(git_daemon.base_path, "d.git", {"x": "1"})
    sha = git("--git-dir", str(bare), "rev-parse", "HEAD")
    src = source(tmp_path)
    assert [c.id for c in src.commits(GitSubscription(git_daemon.repo_url("d.git")), 1)] == [sha]
    with pytest.raises(SourceError, match=r"git repository git://.*/missing.git: repository not found; check repoURL"):
        src.commits(GitSubscription(git_daemon.repo_url("missing.git")), 1)


def test_a_mirror_left_by_a_killed_fetch_is_not_wedged(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    """SIGKILL mid-fetch (a crashed pod) leaves git's lock files, or a half-made mirror; git would
    refuse every later fetch until someone deleted them by hand. The next sync recovers."""
    name = next(_names)
    bare = git_http_server.create_repo(name, {"a.txt": "1\n"})
    url = git_http_server.repo_url(name)
    mirrors = GitMirrors(tmp_path / "cache")
    mirror, _ = mirrors.sync(url)
    for leftover in ("packed-refs.lock", "shallow.lock", "refs/heads/main.lock"):
        (mirror / leftover).parent.mkdir(parents=True, exist_ok=True)
        (mirror / leftover).write_text("")
    moved = commit_files(bare, {"a.txt": "2\n"}, message="moved")
    mirror, refs = mirrors.sync(url)
    assert refs.refs["refs/heads/main"] == moved
    assert git("--git-dir", str(mirror), "rev-parse", "refs/heads/main") == moved
    assert not list(mirror.glob("**/*.lock"))

    half = GitMirrors(tmp_path / "other")
    half.path_for(url).mkdir(parents=True)  # `git init` killed before it wrote anything
    mirror, refs = half.sync(url)
    assert git("--git-dir", str(mirror), "rev-parse", "refs/heads/main") == moved
