"""Webhook payloads of each provider: authentication, repository extraction and warehouse mapping."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from freightyard.controller.webhooks import Secrets, WebhookError, parse, repo_key, signature, targets
from tests.helpers.controller_fakes import pipeline

SECRETS = Secrets({"gitlab": "gl-token"}, default="shared-secret")


def deliver(
    provider: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    sign: str = "",
) -> Any:
    body = json.dumps(payload).encode()
    all_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if sign:
        all_headers[sign] = signature(body, "shared-secret")
    return parse(provider, all_headers, query or {}, body, SECRETS)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://github.com/Org/Shop.git", "github.com/org/shop"),
        ("git@github.com:org/shop.git", "github.com/org/shop"),
        ("ssh://git@github.com/org/shop", "github.com/org/shop"),
        ("registry.example.com/org/shop:1.2.3", "registry.example.com/org/shop"),
        ("127.0.0.1:5000/org/shop@sha256:abcd", "127.0.0.1:5000/org/shop"),
        ("nginx", "docker.io/library/nginx"),
        ("index.docker.io/org/app", "docker.io/org/app"),
        ("org/app", "docker.io/org/app"),
    ],
)
def test_repo_keys(url: str, key: str) -> None:
    assert repo_key(url) == key


def test_github_push_is_verified_by_hmac() -> None:
    payload = {
        "ref": "refs/heads/main",
        "repository": {
            "clone_url": "https://git.example.com/org/shop.git",
            "ssh_url": "git@git.example.com:org/shop.git",
        },
    }
    delivery = deliver("github", payload, {"X-GitHub-Event": "push"}, sign="x-hub-signature-256")
    assert delivery.repos == ("git.example.com/org/shop",)
    with pytest.raises(WebhookError) as refused:
        deliver("github", payload, {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert refused.value.status == 401
    assert deliver("github", {}, {"X-GitHub-Event": "ping"}, sign="x-hub-signature-256").ignored == "ping"


def test_ghcr_package_event() -> None:
    payload = {
        "action": "published",
        "package": {
            "name": "Shop",
            "namespace": "org",
            "package_type": "CONTAINER",
            "registry": {"url": "https://ghcr.io"},
        },
    }
    delivery = deliver("ghcr", payload, {"X-GitHub-Event": "package"}, sign="x-hub-signature-256")
    assert delivery.repos == ("ghcr.io/org/shop",)


def test_gitlab_push_uses_its_own_token() -> None:
    payload = {"project": {"git_http_url": "https://gitlab.example.com/org/shop.git"}}
    assert deliver("gitlab", payload, {"X-Gitlab-Token": "gl-token"}).repos == ("gitlab.example.com/org/shop",)
    with pytest.raises(WebhookError):
        deliver("gitlab", payload, {"X-Gitlab-Token": "shared-secret"})


def test_registry_payloads() -> None:
    token = {"token": "shared-secret"}
    assert deliver("dockerhub", {"repository": {"repo_name": "org/app"}}, query=token).repos == ("docker.io/org/app",)
    assert deliver("quay", {"repository": "org/app", "docker_url": "quay.io/org/app"}, query=token).repos == (
        "quay.io/org/app",
    )
    harbor = {
        "type": "PUSH_ARTIFACT",
        "event_data": {"resources": [{"resource_url": "harbor.example.com/proj/app:1.0"}]},
    }
    assert deliver("harbor", harbor, {"Authorization": "shared-secret"}).repos == ("harbor.example.com/proj/app",)
    generic = {"repositories": ["registry.example.com/org/shop:2.0"]}
    assert deliver("generic", generic, sign="x-freightyard-signature-256").repos == ("registry.example.com/org/shop",)
    assert deliver("generic", generic, {"X-Freightyard-Token": "shared-secret"}).repos
    with pytest.raises(WebhookError) as refused:
        deliver("dockerhub", {"repository": {"repo_name": "org/app"}})
    assert refused.value.status == 401


def test_refusals() -> None:
    with pytest.raises(WebhookError) as unknown:
        deliver("sourceforge", {})
    assert unknown.value.status == 404
    with pytest.raises(WebhookError) as unconfigured:
        parse("github", {}, {}, b"{}", Secrets())
    assert unconfigured.value.status == 403
    with pytest.raises(WebhookError) as empty:
        deliver("generic", {"nothing": 1}, sign="x-freightyard-signature-256")
    assert empty.value.status == 400


def test_repositories_map_to_subscribing_warehouses() -> None:
    shop = pipeline()
    assert [(t.pipeline, t.warehouse) for t in targets([shop], [repo_key("git@git.example.com:org/shop.git")])] == [
        ("shop", "main")
    ]
    assert targets([shop], [repo_key("registry.example.com/org/shop:9.9.9")])
    assert targets([shop], [repo_key("registry.example.com/org/other")]) == []


def test_secrets_from_env_and_files(tmp_path: Any) -> None:
    (tmp_path / "quay").write_text("from-file\n")
    loaded = Secrets.load({"FREIGHTYARD_WEBHOOK_SECRET": "x", "FREIGHTYARD_WEBHOOK_SECRET_GITHUB": "y"}, str(tmp_path))
    assert (loaded.for_provider("github"), loaded.for_provider("quay"), loaded.for_provider("gitlab")) == (
        "y",
        "from-file",
        "x",
    )
    assert "from-file" not in repr(loaded) and "x" not in repr(loaded).replace("Secrets", "")


def _signed(provider: str, payload: dict[str, Any], headers: dict[str, str], header: str, prefix: str) -> Any:
    body = json.dumps(payload).encode()
    sig = signature(body, "shared-secret").removeprefix("sha256=")
    all_headers = {k.lower(): v for k, v in headers.items()} | {header: prefix + sig}
    return parse(provider, all_headers, {}, body, SECRETS)


def test_bitbucket_cloud_and_data_center_are_signed_and_name_refs() -> None:
    cloud = {
        "repository": {"full_name": "org/shop", "links": {"html": {"href": "https://bitbucket.org/org/shop"}}},
        "push": {"changes": [{"new": {"type": "tag", "name": "v1.2.0"}}, {"new": {"type": "branch", "name": "main"}}]},
    }
    got = _signed("bitbucket", cloud, {"X-Event-Key": "repo:push"}, "x-hub-signature", "sha256=")
    assert (got.repos, got.refs) == (("bitbucket.org/org/shop",), ("refs/tags/v1.2.0", "refs/heads/main"))
    with pytest.raises(WebhookError, match="X-Hub-Signature"):
        parse("bitbucket", {"x-event-key": "repo:push", "x-hub-signature": "sha256=00"}, {}, b"{}", SECRETS)
    server = {
        "repository": {"links": {"clone": [{"href": "https://bb.example.com/scm/org/shop.git", "name": "http"}]}},
        "changes": [{"ref": {"id": "refs/tags/v2.0.0", "type": "TAG"}}],
    }
    got = _signed("bitbucket-server", server, {"X-Event-Key": "repo:refs_changed"}, "x-hub-signature", "sha256=")
    assert (got.repos, got.refs) == (("bb.example.com/scm/org/shop",), ("refs/tags/v2.0.0",))


def test_gitea_forgejo_azure_acr_and_artifactory_schemes() -> None:
    gitea = {"ref": "refs/heads/main", "repository": {"clone_url": "https://gitea.example.com/org/shop.git"}}
    for header in ("x-gitea-signature", "x-forgejo-signature"):
        got = _signed("gitea", gitea, {"X-Gitea-Event": "push"}, header, "")
        assert (got.repos, got.refs) == (("gitea.example.com/org/shop",), ("refs/heads/main",))
    azure = {
        "eventType": "git.push",
        "resource": {
            "repository": {"remoteUrl": "https://dev.azure.com/org/proj/_git/shop"},
            "refUpdates": [{"name": "refs/tags/v3.0.0"}],
        },
    }
    basic = "Basic " + base64.b64encode(b"hook:shared-secret").decode()
    got = parse("azure", {"authorization": basic}, {}, json.dumps(azure).encode(), SECRETS)
    assert (got.repos, got.refs) == (("dev.azure.com/org/proj/_git/shop",), ("refs/tags/v3.0.0",))
    with pytest.raises(WebhookError, match="Basic"):
        parse("azure", {"authorization": "Basic " + base64.b64encode(b"hook:nope").decode()}, {}, b"{}", SECRETS)
    acr = {"action": "push", "target": {"repository": "shop", "tag": "1.4.0"}, "request": {"host": "r.azurecr.io"}}
    got = deliver("acr", acr, {"Authorization": "Bearer shared-secret"})
    assert (got.repos, got.refs) == (("r.azurecr.io/shop",), ("tag:1.4.0",))
    jfrog = {
        "domain": "docker",
        "event_type": "pushed",
        "jpd_origin": "https://acme.jfrog.io",
        "data": {"repo_key": "docker-local", "image_name": "shop", "tag": "1.5.0"},
    }
    got = _signed("artifactory", jfrog, {}, "x-jfrog-event-auth", "")
    assert (got.repos, got.refs) == (("acme.jfrog.io/docker-local/shop",), ("tag:1.5.0",))
    assert deliver("artifactory", jfrog, {"X-JFrog-Event-Auth": "shared-secret"}).repos == got.repos


def test_github_form_encoded_delivery_is_verified_over_the_raw_body() -> None:
    payload = {"ref": "refs/tags/v1.0.0", "repository": {"clone_url": "https://git.example.com/org/shop.git"}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "x-github-event": "push",
        "content-type": "application/x-www-form-urlencoded",
        "x-hub-signature-256": signature(body, "shared-secret"),
    }
    got = parse("github", headers, {}, body, SECRETS)
    assert (got.repos, got.refs) == (("git.example.com/org/shop",), ("refs/tags/v1.0.0",))


def test_a_pushed_tag_no_subscription_selects_wakes_nothing() -> None:
    import dataclasses

    from freightyard.shared.core.model import GitSubscription, ImageSubscription, Pipeline, Warehouse

    def one(name: str, sub: Any) -> Pipeline:
        return dataclasses.replace(pipeline(name=name), warehouses=(Warehouse("w", (sub,)),))

    semver_image = one("img", ImageSubscription("r.azurecr.io/shop", constraint="^1", ignore_tags=("rc",)))
    tag_git = one("git", GitSubscription("https://git.example.com/org/shop.git", strategy="SemVer"))
    branch_git = one("branch", GitSubscription("https://git.example.com/org/shop.git", branch="main"))
    pipelines = [semver_image, tag_git, branch_git]
    image, git_repo = ("r.azurecr.io/shop",), ("git.example.com/org/shop",)
    assert [t.pipeline for t in targets(pipelines, image, ("tag:1.4.0",))] == ["img"]
    assert targets(pipelines, image, ("tag:2.0.0",)) == []  # outside ^1
    assert targets(pipelines, image, ("tag:1.5.0-rc.1",)) == []  # ignored
    assert [t.pipeline for t in targets(pipelines, git_repo, ("refs/tags/v1.0.0",))] == ["git"]
    assert targets(pipelines, git_repo, ("refs/tags/nightly",)) == []
    assert [t.pipeline for t in targets(pipelines, git_repo, ("refs/heads/main",))] == ["branch"]
    assert targets(pipelines, git_repo, ("refs/heads/feature",)) == []
    assert {t.pipeline for t in targets(pipelines, git_repo)} == {"git", "branch"}  # no refs named: all wake
