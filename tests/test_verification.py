"""Verification: Argo CD status rules (docs/architecture.md §3.3) against kmock, command and HTTP checks,
blocking downstream."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from freightyard.shared.core.errors import NotEligibleError
from freightyard.shared.core.freight import Commit, Freight, Image
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.verification.argocd import Target, judge
from freightyard.shared.verification.runner import verify
from tests.helpers.mechanism_fixtures import DIGEST1, engine_for
from tests.servers.kube_emulator import KubeEmulator

APP = "argoproj.io/v1alpha1/applications"
SHA = "a" * 40
REPO = "https://git.example.com/org/gb.git"
SINCE = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)

PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {name: gb}
    spec:
      warehouses:
      - name: main
        subscriptions: [{git: {repoURL: "https://git.example.com/org/gb.git"}}]
      stages:
      - name: staging
        requestedFreight: [{origin: main, sources: {direct: true}}]
        verification:
          argocd: {healthy: true}
          timeout: 30s
          commands:
          - {name: freight-env, command: [sh, -c, 'test "$STAGE" = staging && test -n "$FREIGHT_ID"']}
          http: [HTTP]
        apps: [{name: guestbook, path: apps/guestbook}]
      - name: prod
        requestedFreight: [{origin: main, sources: {stages: [staging]}}]
    """


def healthy(revision: str = SHA, reconciled: str = "2030-01-01T12:00:05Z", **over: Any) -> dict[str, Any]:
    status = {
        "reconciledAt": reconciled,
        "sync": {"status": "Synced", "revision": revision},
        "operationState": {"phase": "Succeeded", "syncResult": {"revision": revision}},
        "health": {"status": "Healthy"},
    }
    status.update(over)
    return {"metadata": {"name": "guestbook-staging", "annotations": {}}, "status": status}


@pytest.mark.parametrize(
    ("app", "verdict", "why"),
    [
        (healthy(), "ok", "synced to aaaaaaaaaaaa and healthy"),
        ({**healthy(), "metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}, "waiting", "refresh"),
        (healthy(reconciled="2030-01-01T11:59:59Z"), "waiting", "before the promotion"),
        (healthy(revision="b" * 40), "waiting", "expected aaaaaaaaaaaa"),
        (healthy(sync={"status": "OutOfSync", "revision": SHA}), "waiting", "OutOfSync"),
        (healthy(operationState={"phase": "Running", "syncResult": {"revision": SHA}}), "waiting", "Running"),
        (
            healthy(operationState={"phase": "Failed", "message": "hook failed", "syncResult": {"revision": SHA}}),
            "failed",
            "failed: hook failed",
        ),
        (healthy(health={"status": "Degraded"}), "waiting", "Degraded"),
        ({**healthy(), "metadata": {"annotations": {"freightyard.io/freight": "f" * 40}}}, "waiting", "regenerated"),
    ],
)
def test_judge_follows_the_argocd_contract(app: dict[str, Any], verdict: str, why: str) -> None:
    got, message = judge(app, Target("argocd", "guestbook-staging", SHA), SINCE, "e" * 40)
    assert got == verdict and why in message


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok: guestbook" if self.path == "/healthz" else b"nope"
        self.send_response(200 if self.path == "/healthz" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def seed(kube: KubeEmulator, freight_id: str, status: dict[str, Any]) -> None:
    kube.put_object(
        APP,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": "guestbook-staging",
                "namespace": "argocd",
                "labels": {"freightyard.io/pipeline": "gb", "freightyard.io/stage": "staging"},
                "annotations": {"freightyard.io/freight": freight_id},
            },
            "spec": {"source": {"repoURL": REPO, "targetRevision": SHA}},
            "status": status,
        },
    )


def argo_cd(kube: KubeEmulator, freight_id: str, final: dict[str, Any]) -> Any:
    """A stand-in for Argo CD: each poll interval it reconciles (annotation gone, status scripted)."""
    steps = [{"sync": {"status": "OutOfSync", "revision": SHA}, "health": {"status": "Progressing"}}, final]
    stored = kube.object(APP, "argocd", "guestbook-staging")
    assert stored is not None and "argocd.argoproj.io/refresh" not in stored["metadata"]["annotations"]

    def sleep(_: float) -> None:
        current = kube.object(APP, "argocd", "guestbook-staging")
        if len(steps) == 2:  # the verifier asked for a refresh before its first poll
            assert current is not None and current["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "normal"
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        seed(kube, freight_id, {"reconciledAt": now, **(steps.pop(0) if steps else final)})

    return sleep


def make(tmp_path: Path, api: KubeApi, web: str) -> tuple[Any, Freight]:
    text = PIPELINE.replace("HTTP", "{name: ready, url: '" + web + "/healthz', bodyContains: guestbook}")
    engine = engine_for(text, tmp_path, kube_api=lambda: api, noop_detection=False)
    freight = Freight("main", commits=(Commit(REPO, SHA),), images=(Image("r.example.com/gb", "1", DIGEST1),))
    engine.add_freight(freight)
    engine.promote(freight.id, "staging", "t")
    return engine, freight


def test_verification_passes_after_argocd_reconciles(
    kube: KubeEmulator, api: KubeApi, web: str, tmp_path: Path
) -> None:
    engine, freight = make(tmp_path, api, web)
    seed(kube, freight.id, {"reconciledAt": "2000-01-01T00:00:00Z"})
    done = {
        "sync": {"status": "Synced", "revision": SHA},
        "health": {"status": "Healthy"},
        "operationState": {"phase": "Succeeded", "syncResult": {"revision": SHA}},
    }
    outcome = verify(engine, "staging", poll=0, sleep=argo_cd(kube, freight.id, done))
    assert outcome.phase == "Succeeded", outcome.message
    assert [c.name for c in outcome.checks] == ["argocd argocd/guestbook-staging", "command freight-env", "http ready"]
    assert engine.state().stages["staging"].verifications[freight.id].phase == "Succeeded"
    assert engine.promote(freight.id, "prod", "t").phase == "Succeeded"


def test_failing_verification_blocks_downstream_with_a_reason(
    kube: KubeEmulator, api: KubeApi, web: str, tmp_path: Path
) -> None:
    engine, freight = make(tmp_path, api, web)
    seed(kube, freight.id, {"reconciledAt": "2000-01-01T00:00:00Z"})
    failed = {
        "sync": {"status": "OutOfSync", "revision": SHA},
        "health": {"status": "Degraded"},
        "operationState": {
            "phase": "Failed",
            "message": "Deployment guestbook: ImagePullBackOff",
            "syncResult": {"revision": SHA},
        },
    }
    outcome = verify(engine, "staging", poll=0, sleep=argo_cd(kube, freight.id, failed))
    assert outcome.phase == "Failed"
    assert (
        "argocd argocd/guestbook-staging: sync of aaaaaaaaaaaa failed: Deployment guestbook: ImagePullBackOff"
        in outcome.message
    )
    with pytest.raises(
        NotEligibleError,
        match=r"verification in staging is failed \(argocd argocd/guestbook-staging: "
        r"sync of aaaaaaaaaaaa failed",
    ):
        engine.promote(freight.id, "prod", "t")


def test_command_and_http_failures_are_reported(kube: KubeEmulator, api: KubeApi, web: str, tmp_path: Path) -> None:
    text = (
        PIPELINE.replace("argocd: {healthy: true}", "argocd: {healthy: false}")
        .replace('test "$STAGE" = staging', "echo boom >&2; false")
        .replace("HTTP", "{url: '" + web + "/down'}")
    )
    engine = engine_for(text, tmp_path, kube_api=lambda: api)
    freight = Freight("main", commits=(Commit(REPO, SHA),))
    engine.add_freight(freight)
    engine.promote(freight.id, "staging", "t")
    outcome = verify(engine, "staging", freight.alias)
    assert outcome.phase == "Failed"
    assert "command freight-env: exit code 1: boom" in outcome.message
    assert f"GET {web}/down answered 503, expected 200" in outcome.message


def test_argocd_timeout_names_the_last_state(kube: KubeEmulator, api: KubeApi, web: str, tmp_path: Path) -> None:
    engine, freight = make(tmp_path, api, web)
    seed(kube, freight.id, {"reconciledAt": "2000-01-01T00:00:00Z"})
    engine.pipeline.stage("staging")
    from freightyard.shared.verification import argocd

    results = argocd.wait_for(api, [Target("argocd", "guestbook-staging", SHA)], freight.id, SINCE, 0.0, poll=0)
    assert not results[0].ok and "not verified within 0s: refresh requested" in results[0].message


@pytest.mark.integration  # its command check runs sh from PATH
def test_verify_command_records_and_exits_non_zero_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from freightyard.controller.cli import main
    from freightyard.shared.core.pipeline import parse_pipelines
    from freightyard.shared.engine.promotion import Engine
    from freightyard.shared.stores.file import FileStore

    text = PIPELINE.replace("argocd: {healthy: true}", "argocd: {healthy: false}").replace("http: [HTTP]", "")
    (tmp_path / "p.yaml").write_text(text.replace("\n    ", "\n").removeprefix("    "))
    (tmp_path / "apps" / "guestbook").mkdir(parents=True)
    state = tmp_path / "state.yaml"
    engine = Engine(parse_pipelines((tmp_path / "p.yaml").read_text())[0], FileStore(state), cache_dir=tmp_path)
    freight = Freight("main", commits=(Commit(REPO, SHA),))
    engine.add_freight(freight)
    engine.promote(freight.id, "staging", "t")
    args = ["verify", "-f", str(tmp_path / "p.yaml"), "--state", f"file:{state}", "-o", "json"]
    assert main([*args, "staging"]) == 0
    assert '"phase": "Succeeded"' in capsys.readouterr().out
    assert main([*args, "prod"]) == 1
    assert "stage prod holds no freight yet" in capsys.readouterr().err


def test_command_checks_get_freight_facts_and_templated_env(tmp_path: Path) -> None:
    from freightyard.shared.verification.commands import run_command

    image = Image("registry.example.com/org/web", "1.2.3", DIGEST1)
    subject = Freight("main", images=(image,))
    script = (
        'import os, sys; sys.exit(0 if os.environ["WANT"] == os.environ["IMAGE_WEB"] '
        'and os.environ["STAGE"] == "qa" and os.environ["FREIGHT_ID"] == os.environ["ID"] else 3)'
    )
    check = {
        "name": "env",
        "command": ["python3", "-c", script],
        "timeout": 10,
        "env": {
            "WANT": '${{ imageFrom("registry.example.com/org/web").repoURL }}:1.2.3@' + DIGEST1,
            "ID": "${{ freight.id }}",
        },
    }
    result = run_command(check, subject, "p", "qa")
    assert result.ok, result.message
    failing = run_command({**check, "env": {"WANT": "something else", "ID": "x"}}, subject, "p", "qa")
    assert not failing.ok and "exit code 3" in failing.message
