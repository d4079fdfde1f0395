"""The /api/v1 surface over a real demo state: the views, the actions, and the proxy-header trust rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freightyard.controller.api import Trust
from freightyard.controller.server import Answer, HttpServer, Routes
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.freight import Chart, Commit, Freight
from tests.ui_fixtures import api, call, demo_copy, engine, pipelines

SECRET = "proxy-shared-secret"
ARGO = {
    "Freightyard-Proxy-Secret": SECRET,
    "Argocd-Username": "alice",
    "Argocd-User-Groups": "release-managers,devs",
    "Argocd-Application-Name": "argocd:guestbook-staging",
    "Argocd-Project-Name": "default",
}
PREFIX = "/api/v1/pipelines"


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cache") / "run"


@pytest.fixture
def workdir(demo_cache: Path, tmp_path: Path) -> Path:
    return demo_copy(demo_cache, tmp_path / "demo")


def serve(workdir: Path, trust: Trust) -> HttpServer:
    routes = Routes(
        health=lambda: Answer.json(200, {}),
        ready=lambda: Answer.json(200, {}),
        metrics=lambda: Answer(200, b"", "text/plain"),
        webhook=lambda *_: Answer.json(404, {}),
        api=api(workdir, trust).handle,
    )
    return HttpServer(routes, "127.0.0.1", 0)


@pytest.fixture
def proxied(workdir: Path) -> Iterator[int]:
    with serve(workdir, Trust(proxy_secret=SECRET)) as server:
        yield server.port


@pytest.mark.integration
def test_requests_without_the_proxy_secret_are_refused(proxied: int) -> None:
    status, body = call(proxied, "GET", PREFIX, headers={"Argocd-Username": "mallory"})
    assert status == 401 and "freightyard-proxy-secret" in body["message"]
    status, body = call(proxied, "GET", PREFIX, headers={**ARGO, "Freightyard-Proxy-Secret": "guess"})
    assert status == 403 and "wrong" in body["message"]
    status, _ = call(proxied, "POST", f"{PREFIX}/guestbook/stages/staging/promotions", {"freight": "x"})
    assert status == 401
    status, body = call(proxied, "GET", PREFIX, headers={"Freightyard-Proxy-Secret": SECRET})
    assert status == 401 and "argocd-username" in body["message"]  # the secret alone names nobody


@pytest.mark.integration
def test_an_unconfigured_controller_serves_no_api(workdir: Path) -> None:
    with serve(workdir, Trust()) as server:
        status, body = call(server.port, "GET", PREFIX, headers=ARGO)
    assert status == 403 and "--ui-proxy-secret" in body["message"]


@pytest.mark.integration
def test_views_show_freight_per_origin_candidates_and_the_graph(proxied: int) -> None:
    status, listing = call(proxied, "GET", PREFIX, headers=ARGO)
    assert status == 200 and [p["name"] for p in listing["pipelines"]] == ["guestbook"]
    status, view = call(proxied, "GET", f"{PREFIX}/guestbook", headers=ARGO)
    assert status == 200
    stages = {s["name"]: s for s in view["stages"]}
    assert list(stages) == ["dev", "staging", "hotfix", "prod"]
    assert {"from": "dev", "to": "staging", "origin": "main"} in view["edges"]
    held = {name: set(s["freight"]) for name, s in stages.items()}  # the demo's two warehouses
    assert held == {
        "dev": {"main", "redis"},
        "staging": {"main", "redis"},
        "hotfix": {"main"},
        "prod": {"main", "redis"},
    }
    assert stages["staging"]["candidates"]["main"]["eligible"] is True
    assert stages["staging"]["candidates"]["main"]["reason"] == "verified in dev"
    assert stages["prod"]["approvals"][0]["by"] == "user:oncall"
    # the demo's last prod promotion was a no-op: prod holds the new freight, its app keeps the old pin
    assert stages["prod"]["history"][0]["phase"] == "Noop"
    pins = stages["prod"]["apps"][0]["pins"]
    assert set(pins) == {"main", "redis"} and pins["main"] != stages["prod"]["freight"]["main"]["id"]
    status, freight = call(proxied, "GET", f"{PREFIX}/guestbook/freight", headers=ARGO)
    assert status == 200 and freight["total"] == 4 and freight["freight"][0]["stages"] == ["dev", "prod"]
    status, missing = call(proxied, "GET", f"{PREFIX}/nope", headers=ARGO)
    assert status == 404 and "no pipeline 'nope'" in missing["message"]


@pytest.mark.integration
def test_actions_are_recorded_with_the_argo_cd_identity(proxied: int, workdir: Path) -> None:
    pipeline = pipelines(workdir)[0]
    newest = next(iter(engine(workdir, pipeline).state().freight.values()))
    status, record = call(
        proxied, "POST", f"{PREFIX}/guestbook/stages/staging/promotions", {"freight": newest.alias}, ARGO
    )
    assert status == 201 and record["by"] == "argocd:alice"
    state = engine(workdir, pipeline).state()
    assert state.stages["staging"].current is not None and state.stages["staging"].current.freight == newest.id
    assert state.stages["staging"].current.by == "argocd:alice"

    fresh = Freight(origin="main", commits=(Commit(repo_url=newest.commits[0].repo_url, id="f" * 40),))
    engine(workdir, pipeline).add_freight(fresh)
    status, refused = call(
        proxied, "POST", f"{PREFIX}/guestbook/stages/staging/promotions", {"freight": fresh.id}, ARGO
    )
    assert status == 409 and "not verified in dev" in refused["message"]
    body = {"freight": fresh.id, "reason": "CAB-42"}
    status, approved = call(proxied, "POST", f"{PREFIX}/guestbook/stages/staging/approvals", body, ARGO)
    assert status == 201 and approved["by"] == "argocd:alice"
    (mark,) = engine(workdir, pipeline).state().stages["staging"].gates.approvals[fresh.id]
    assert (mark.by, mark.reason, mark.groups) == ("argocd:alice", "CAB-42", ("release-managers", "devs"))
    status, bad = call(proxied, "POST", f"{PREFIX}/guestbook/stages/staging/approvals", {"reason": "x"}, ARGO)
    assert status == 400 and bad["message"].startswith("body.freight")


def controller_api(tmp_path: Path, *flags: str) -> Any:
    from freightyard.controller.cli import build_parser
    from freightyard.controller.commands.controller import build

    pipelines_file = Path(__file__).resolve().parent.parent / "examples" / "quick-and-dirty" / "pipeline.yaml"
    args = build_parser().parse_args(
        [
            "controller",
            "--pipelines",
            str(pipelines_file),
            "--state",
            f"file:{tmp_path}/state-{{pipeline}}.yaml",
            *("--listen", "off", "--leader-election", "none", "--refresh", "off", "--once"),
            *flags,
        ]
    )
    controller, _ = build(args)
    controller.reload()
    return controller


def test_the_controller_serves_the_api_with_the_mounted_secret(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n")
    controller = controller_api(tmp_path, "--ui-proxy-secret-file", str(tmp_path / "secret"))
    handle = controller.routes().api
    refused = handle("GET", PREFIX, {"argocd-username": "mallory"}, b"")
    assert refused.status == 401
    answer = handle("GET", PREFIX, {k.lower(): v for k, v in ARGO.items()}, b"")
    assert answer.status == 200 and [p["name"] for p in json.loads(answer.body)["pipelines"]] == ["quick-and-dirty"]
    chart = Freight(
        origin="grafana", charts=(Chart(repo_url="https://charts.example.com", name="grafana", version="1.2.0"),)
    )
    controller.engines["quick-and-dirty"].add_freight(chart)
    controller.scheduler.pop_due()  # what reload scheduled
    body = json.dumps({"freight": chart.alias, "reason": "ok"}).encode()
    approved = handle(
        "POST", f"{PREFIX}/quick-and-dirty/stages/charts/approvals", {k.lower(): v for k, v in ARGO.items()}, body
    )
    assert approved.status == 201
    assert (
        controller.engines["quick-and-dirty"].state().stages["charts"].gates.approvals[chart.id][0].by == "argocd:alice"
    )
    assert ("advance", "quick-and-dirty") in controller.scheduler.pop_due()  # the controller reacts at once
    (tmp_path / "empty").write_text("")
    with pytest.raises(ConfigError, match="the file is empty"):
        controller_api(tmp_path, "--ui-proxy-secret-file", str(tmp_path / "empty"))
