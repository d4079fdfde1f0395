"""Webhook payloads of each provider: authentication, repository extraction and warehouse mapping."""

from __future__ import annotations

import json
from typing import Any

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
        deliver("bitbucket", {})
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
