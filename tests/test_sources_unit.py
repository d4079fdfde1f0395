"""Pure parts of the sources and the HTTP seam, driven through a fake transport (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.model import ImageSubscription
from freightyard.shared.core.selection import SelectionError, filter_tags, order_tags, semver_order
from freightyard.shared.credentials import Credentials, EnvFileCredentials
from freightyard.shared.sources.challenge import next_link, parse_challenge, parse_image_ref
from freightyard.shared.sources.git import parse_ls_remote
from freightyard.shared.sources.gitauth import askpass_env, split_credentials
from freightyard.shared.sources.gitpaths import is_simple, paths_match, pathspecs
from freightyard.shared.sources.helm import parse_index
from freightyard.shared.sources.http import HttpClient, Response, retry_delay
from freightyard.shared.sources.images import RegistryImageSource
from freightyard.shared.sources.registry import RegistryClient

# ------------------------------------------------------------------------------------------- a fake transport


@dataclass
class FakeTransport:
    """Answers from a function of (method, url, headers); records every request."""

    answer: Callable[[str, str, Mapping[str, str]], Response]
    sent: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def send(self, method: str, url: str, headers: Mapping[str, str], timeout: float, verify: bool) -> Response:
        self.sent.append((method, url, dict(headers)))
        return self.answer(method, url, headers)


def reply(status: int, body: object = b"", **headers: str) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, {k.replace("_", "-").lower(): v for k, v in headers.items()}, data, "")


# ------------------------------------------------------------------------------------------- parsing


def test_bearer_challenge_is_parsed_with_quoted_commas() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'
    )
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example/token",
        "service": "reg",
        "scope": "repository:a/b:pull,push",
    }
    assert parse_challenge("") is None


def test_next_link_is_resolved_against_the_request_url() -> None:
    link = '</v2/a/tags/list?n=2&last=b>; rel="next"'
    assert next_link(link, "http://h:5000/v2/a/tags/list?n=2") == "http://h:5000/v2/a/tags/list?n=2&last=b"
    assert next_link("", "http://h") is None


@pytest.mark.parametrize(
    ("url", "insecure", "base", "repo", "verify"),
    [
        ("registry.example.com/org/app", False, "https://registry.example.com", "org/app", True),
        ("127.0.0.1:5000/app", True, "http://127.0.0.1:5000", "app", False),
        ("https://reg.local/app", True, "https://reg.local", "app", False),
        ("nginx", False, "https://registry-1.docker.io", "library/nginx", True),
        ("bitnami/redis", False, "https://registry-1.docker.io", "bitnami/redis", True),
        ("oci://ghcr.io/org/chart", False, "https://ghcr.io", "org/chart", True),
    ],
)
def test_image_refs_use_tls_unless_told_otherwise(url: str, insecure: bool, base: str, repo: str, verify: bool) -> None:
    ref = parse_image_ref(url, insecure)
    assert (ref.base, ref.repository, ref.verify) == (base, repo, verify)


def test_insecure_hosts_setting_applies_to_every_subscription_on_the_host() -> None:
    assert (
        parse_image_ref("10.0.0.1:5000/a", insecure_hosts=frozenset({"10.0.0.1:5000"})).base == "http://10.0.0.1:5000"
    )


def test_retry_delay_honours_retry_after_and_is_bounded() -> None:
    assert retry_delay(1, "3") == 3.0
    assert retry_delay(1, "9999") == 30.0
    assert retry_delay(3, "") == 2.0
    assert retry_delay(1, "Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_ls_remote_output_gives_refs_and_default_branch() -> None:
    remote = parse_ls_remote(
        "ref: refs/heads/trunk\tHEAD\nabc\tHEAD\nabc\trefs/heads/trunk\ndef\trefs/tags/v1\nabc\trefs/tags/v1^{}\n"
    )
    assert remote.head == "trunk"
    assert remote.refs["refs/tags/v1^{}"] == "abc" and remote.refs["refs/heads/trunk"] == "abc"


# ------------------------------------------------------------------------------------------- selection


def test_semver_order_follows_semver_precedence_not_pep440() -> None:
    tags = ["1.0.0", "1.0.0-rc.10", "1.0.0-rc.2", "1.0.0-alpha", "0.9.9", "v1.0.0-beta.11", "latest"]
    assert semver_order(tags, ">=0.9.0") == ["1.0.0", "0.9.9"]
    # Masterminds v3: naming any pre-release admits every pre-release in range, not only 0.9.0's
    assert semver_order(tags, ">=0.9.0-alpha") == [*semver_order(tags, ">=1.0.0-alpha"), "0.9.9"]
    assert semver_order(tags, ">=1.0.0-alpha") == [
        "1.0.0",
        "1.0.0-rc.10",
        "1.0.0-rc.2",
        "v1.0.0-beta.11",
        "1.0.0-alpha",
    ]


def test_filters_and_bad_patterns_are_clear() -> None:
    assert filter_tags(["1.0", "1.0-debug", "2.0"], r"^\d", ("2.0", ".*-debug")) == ["1.0"]
    with pytest.raises(SelectionError, match=r"allowTags '\(' is not a valid regular expression"):
        filter_tags(["a"], "(")
    with pytest.raises(SelectionError, match=r"constraint '\^foo'"):
        order_tags(["1.0.0"], "SemVer", "^foo")


# ------------------------------------------------------------------------------------------- credentials


def test_credentials_from_env_then_from_mounted_secret(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "username").write_text("bob\n")
    (tmp_path / "charts" / "password").write_text("s3cret-file\n")
    lookup = EnvFileCredentials(
        env={"REGISTRY_RO_USERNAME": "ann", "REGISTRY_RO_PASSWORD": "s3cret-env"}, secrets_dir=tmp_path
    )
    assert lookup("registry-ro", "h") == Credentials("ann", "s3cret-env")
    assert lookup("charts", "h") == Credentials("bob", "s3cret-file")
    assert lookup("", "unknown.host") is None
    assert "s3cret" not in repr(lookup("registry-ro", "h"))
    with pytest.raises(SourceError, match=r"MISSING_USERNAME and MISSING_PASSWORD"):
        lookup("missing", "h")


def test_url_credentials_are_split_out_and_passed_by_askpass_env(tmp_path: Path) -> None:
    url, creds = split_credentials("https://me:to%2Fken@git.example.com:8443/org/r.git")
    assert url == "https://git.example.com:8443/org/r.git"
    assert creds == Credentials("me", "to/ken")
    env = askpass_env(tmp_path, creds)
    assert env["FREIGHTYARD_GIT_PASSWORD"] == "to/ken" and Path(env["GIT_ASKPASS"]).is_file()
    assert split_credentials("/local/path") == ("/local/path", None)


# ------------------------------------------------------------------------------------------- git paths


def test_git_paths_prefix_glob_and_regex() -> None:
    assert paths_match(["apps/a/x.yaml"], ("apps/a/",), ())
    assert not paths_match(["apps/ab/x.yaml"], ("apps/a",), ())
    assert not paths_match(["apps/a/docs/r.md"], ("apps/a",), ("apps/a/docs",))
    assert paths_match(["apps/a/k.yaml"], ("glob:apps/*/k.yaml",), ())
    assert paths_match(["svc/b/main.go"], ("regex:^svc/[ab]/",), ())
    assert is_simple(("apps/a",), ("apps/a/docs",)) and not is_simple(("glob:*",), ())
    assert pathspecs(("apps/a/",), ("apps/a/docs",)) == [":(literal)apps/a", ":(exclude,literal)apps/a/docs"]
    assert pathspecs((), ("docs",)) == [".", ":(exclude,literal)docs"]


# ------------------------------------------------------------------------------------------- helm index


def test_malformed_index_yaml_is_one_clear_error() -> None:
    with pytest.raises(SourceError, match=r"index.yaml is not valid YAML at line 3"):
        parse_index(b"entries:\n  a: [\n", "http://charts")
    with pytest.raises(SourceError, match=r"no 'entries' map"):
        parse_index(b"<html>hi</html>", "http://charts")
    assert parse_index(b"entries:\n  a:\n  - version: 1.0.0\n  - version: 1.1.0\n", "u") == {"a": ["1.0.0", "1.1.0"]}


# ------------------------------------------------------------------------------------------- HTTP retries


def test_429_and_503_are_retried_with_retry_after_then_succeed() -> None:
    answers = iter([reply(429, retry_after="2"), reply(503), reply(200, {"tags": []})])
    slept: list[float] = []
    http = HttpClient(FakeTransport(lambda m, u, h: next(answers)), sleep=slept.append)
    assert http.send("GET", "http://r/v2/a/tags/list").status == 200
    assert slept == [2.0, 1.0] and http.requests_sent == 3


def test_retries_stop_at_the_wait_budget_and_become_a_temporary_error() -> None:
    slept: list[float] = []
    http = HttpClient(FakeTransport(lambda m, u, h: reply(503, retry_after="20")), sleep=slept.append, max_wait=30)
    client = RegistryClient(http)
    with pytest.raises(SourceError) as caught:
        client.tags(parse_image_ref("r.example/a"))
    assert caught.value.temporary and "503" in caught.value.message
    assert slept == [20.0]


# ------------------------------------------------------------------------------------------- registry client


def token_registry(tags: list[str], digests: dict[str, str], page: int = 0) -> FakeTransport:
    """A fake registry demanding a bearer token; tags/list paginates with ``Link`` when ``page`` is set."""

    def answer(method: str, url: str, headers: Mapping[str, str]) -> Response:
        if url.startswith("https://auth.example/token"):
            assert headers["Authorization"].startswith("Basic ")
            return reply(200, {"token": "tok-123456789", "expires_in": 300})
        if headers.get("Authorization") != "Bearer tok-123456789":
            return reply(
                401,
                {"errors": [{"code": "UNAUTHORIZED"}]},
                www_authenticate='Bearer realm="https://auth.example/token",service="reg"',
            )
        if "/tags/list" in url:
            last = url.split("last=")[1] if "last=" in url else ""
            rest = [t for t in tags if t > last]
            if page and len(rest) > page:
                link = f'</v2/a/tags/list?last={rest[page - 1]}>; rel="next"'
                return reply(200, {"name": "a", "tags": rest[:page]}, link=link)
            return reply(200, {"name": "a", "tags": rest})
        tag = url.rsplit("/", 1)[1]
        if tag not in digests:
            return reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        return reply(200, docker_content_digest=digests[tag])

    return FakeTransport(answer)


def test_semver_economy_token_once_then_tags_and_one_head() -> None:
    tags = sorted(f"1.{i}.0" for i in range(50))
    transport = token_registry(tags, {t: f"sha256:{i:064x}" for i, t in enumerate(tags)}, page=20)
    http = HttpClient(transport)
    source = RegistryImageSource(RegistryClient(http, Credentials("u", "p")), parse_image_ref("r.example/a"))
    sub = ImageSubscription("r.example/a", constraint="^1.0")
    [image] = source.images(sub, 1)
    assert (image.tag, image.digest) == ("1.49.0", f"sha256:{tags.index('1.49.0'):064x}")
    methods = [(m, u.split("/v2/a/")[-1]) for m, u, _ in transport.sent]
    # 401 + token, then three pages following Link, then one HEAD for the winner only.
    assert [m for m, _ in methods] == ["GET", "GET", "GET", "GET", "GET", "HEAD"]
    assert "last=" not in methods[0][1] and methods[-1] == ("HEAD", "manifests/1.49.0")
    head_accept = transport.sent[-1][2]["Accept"]
    assert "application/vnd.oci.image.index.v1+json" in head_accept
    assert "application/vnd.docker.distribution.manifest.v2+json" in head_accept
    # Warm: the token is reused (no more auth requests) and the winner's digest is remembered (no HEAD).
    before = len(transport.sent)
    [again] = source.images(sub, 1)
    assert again == image and [m for m, _, _ in transport.sent[before:]] == ["GET", "GET", "GET"]


def test_page_size_uses_n_and_last_when_no_link() -> None:
    tags = sorted(f"t{i:03d}" for i in range(25))
    transport = token_registry(tags, {})
    client = RegistryClient(HttpClient(transport), Credentials("u", "p"))

    def paged(method: str, url: str, headers: Mapping[str, str]) -> Response:
        plain = token_registry(tags, {}, page=10).answer(method, url, headers)
        return Response(plain.status, {k: v for k, v in plain.headers.items() if k != "link"}, plain.body, "")

    transport.answer = paged
    assert client.tags(parse_image_ref("r.example/a"), page_size=10) == tags
    assert [u.split("?")[-1] for _, u, _ in transport.sent[-3:]] == ["n=10", "n=10&last=t009", "n=10&last=t019"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "authentication failed \\(401 UNAUTHORIZED\\); it needs credentials"),
        (403, "access denied \\(403 DENIED\\) to a; grant these credentials pull access"),
        (404, "repository 'a' not found on r.example \\(404 NAME_UNKNOWN\\); check repoURL"),
    ],
)
def test_status_errors_name_url_and_fix(status: int, expected: str) -> None:
    code = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN"}[status]
    transport = FakeTransport(lambda m, u, h: reply(status, {"errors": [{"code": code}]}))
    with pytest.raises(SourceError, match=expected) as caught:
        RegistryClient(HttpClient(transport)).tags(parse_image_ref("r.example/a"))
    assert "https://r.example/v2/a/tags/list" in caught.value.message


def test_tag_list_that_is_not_json() -> None:
    transport = FakeTransport(lambda m, u, h: reply(200, b"<html>login</html>", content_type="text/html"))
    with pytest.raises(SourceError, match=r"tag list is not JSON \(text/html"):
        RegistryClient(HttpClient(transport)).tags(parse_image_ref("r.example/a"))


def test_head_without_digest_header_falls_back_to_get_and_hashes_the_body() -> None:
    body = json.dumps({"schemaVersion": 2, "config": {}}).encode()

    def answer(method: str, url: str, headers: Mapping[str, str]) -> Response:
        return reply(200, b"" if method == "HEAD" else body, content_type="application/vnd.oci.image.manifest.v1+json")

    import hashlib

    digest = RegistryClient(HttpClient(FakeTransport(answer))).digest(parse_image_ref("r.example/a"), "1.0")
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()


def test_metadata_cache_is_bounded_expires_tags_and_checks_disk_entries(tmp_path: Path) -> None:
    from freightyard.shared.sources.metacache import MetadataCache

    now = [0.0]
    cache = MetadataCache(tmp_path, max_entries=2, tag_ttl=10, clock=lambda: now[0])
    digests = [f"sha256:{c * 64}" for c in "abc"]
    for d in digests:
        cache.put_document(d, "m", {"d": d})
    assert len(cache._docs.items) == 2  # least recently used dropped from memory ...
    assert cache.document(digests[0]) == ("m", {"d": digests[0]})  # ... and read back from disk
    path = tmp_path / "aa" / f"{'a' * 64}.json"
    path.write_text(path.read_text().replace(digests[0], "sha256:forged"))
    fresh = MetadataCache(tmp_path)
    assert fresh.document(digests[0]) is None  # a tampered entry is not trusted
    cache.put_tag("r", "v1", digests[1])
    assert cache.tag_digest("r", "v1") == digests[1]
    now[0] = 11
    assert cache.tag_digest("r", "v1") is None
