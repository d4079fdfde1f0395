"""Git writes: push races lose nothing, conflicts are re-applied, credentials never leak into errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from freightyard.shared.core.errors import MechanismError
from freightyard.shared.credentials import no_credentials
from freightyard.shared.gitops.runner import Author, GitRunner
from freightyard.shared.gitops.workspace import Change, commit_and_push, credentials_for
from freightyard.shared.sources.git import GitMirrors
from tests.helpers.mechanism_fixtures import commit_files, git_out, head, make_repo, show
from tests.servers.git_http import GitHttpServer

pytestmark = pytest.mark.integration


def tools(tmp_path: Path, url: str = "") -> tuple[GitMirrors, GitRunner]:
    creds = credentials_for(url, "", no_credentials) if url else None
    return GitMirrors(tmp_path / "cache"), GitRunner(tmp_path / "cache", Author("Promoter", "p@example.com"), creds)


def write(path: Path, text: str) -> None:
    path.write_text(text)


def test_push_race_keeps_both_commits(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(git_http_server, f"race-{uuid.uuid4().hex[:8]}.git", {"a.txt": "a\n"})
    calls: list[int] = []

    def apply(repo: Path) -> None:
        calls.append(1)
        if len(calls) == 1:  # another writer lands between our fetch and our push
            commit_files(bare, {"theirs.txt": "theirs\n"}, message="theirs")
        (repo / "ours.txt").write_text("ours\n")

    pushed = commit_and_push(*tools(tmp_path), Change(url, "main", "ours", apply))
    assert pushed.changed and pushed.attempts == 2
    assert show(bare, "main", "theirs.txt") == "theirs\n"
    assert show(bare, "main", "ours.txt") == "ours\n"
    assert head(bare, "main") == pushed.commit
    assert git_out(bare, "log", "-1", "--format=%an <%ae>", "main") == "Promoter <p@example.com>"


def test_conflicting_race_reapplies_the_change_on_the_new_tip(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(git_http_server, f"race-{uuid.uuid4().hex[:8]}.git", {"v.txt": "line1\nline2\n"})
    calls: list[int] = []

    def apply(repo: Path) -> None:
        calls.append(1)
        if len(calls) == 1:
            commit_files(bare, {"v.txt": "THEIRS\nline2\n"}, message="theirs")
        text = (repo / "v.txt").read_text()
        (repo / "v.txt").write_text(text.replace("line2", "OURS") if "line1" in text else text + "OURS\n")

    pushed = commit_and_push(*tools(tmp_path), Change(url, "main", "ours", apply))
    assert pushed.changed and len(calls) == 2
    assert show(bare, "main", "v.txt") == "THEIRS\nline2\nOURS\n"  # computed again from their version


def test_unchanged_tree_is_not_committed(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(git_http_server, f"same-{uuid.uuid4().hex[:8]}.git", {"a.txt": "a\n"})
    before = head(bare, "main")
    pushed = commit_and_push(*tools(tmp_path), Change(url, "main", "x", lambda repo: None))
    assert not pushed.changed and pushed.commit == before == head(bare, "main")


def test_new_branch_starts_empty_or_from_a_revision(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(git_http_server, f"new-{uuid.uuid4().hex[:8]}.git", {"a.txt": "a\n"})
    mirrors, runner = tools(tmp_path)
    commit_and_push(mirrors, runner, Change(url, "env/x", "m", lambda r: write(r / "b.txt", "b\n")))
    assert show(bare, "env/x", "a.txt") is None and show(bare, "env/x", "b.txt") == "b\n"
    commit_and_push(mirrors, runner, Change(url, "env/y", "m", lambda r: write(r / "b.txt", "b\n"), start_from="main"))
    assert show(bare, "env/y", "a.txt") == "a\n"


def test_credentials_travel_by_askpass_and_are_redacted(git_http_server_auth: GitHttpServer, tmp_path: Path) -> None:
    name = f"auth-{uuid.uuid4().hex[:8]}.git"
    bare, _ = make_repo(git_http_server_auth, name, {"a.txt": "a\n"})
    good = git_http_server_auth.repo_url_with_auth(name)
    pushed = commit_and_push(*tools(tmp_path, good), Change(good, "main", "m", lambda r: write(r / "c", "c")))
    assert pushed.changed and show(bare, "main", "c") == "c"
    password = git_http_server_auth.password or ""
    bad = good.replace(password, "wrong-" + password)
    with pytest.raises(MechanismError) as caught:
        commit_and_push(*tools(tmp_path / "other", bad), Change(bad, "main", "m", lambda r: None))
    assert password not in str(caught.value) and "wrong-" not in str(caught.value)
