"""The page and the Argo CD extension in headless Chromium, over a real demo state and the real API.

The extension test page stands in for Argo CD's UI: it provides ``window.React`` (React 18 from npm,
package-lock.json) and ``window.extensionsAPI``, and its ``/extensions/freightyard/`` path behaves like
Argo CD's proxy extension (adds the shared secret and the user's identity, strips the prefix).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from freightyard.controller.api import Api, Trust
from freightyard.controller.server import Answer, HttpServer, Routes
from freightyard.controller.ui import page
from freightyard.shared.core.freight import Commit, Freight
from tests.servers.chromium import Browser
from tests.ui_fixtures import api, demo_copy, engine, pipelines

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "controller" / "ui"
REACT = ROOT / "node_modules" / "react" / "umd" / "react.production.min.js"
REACT_DOM = ROOT / "node_modules" / "react-dom" / "umd" / "react-dom.production.min.js"
SECRET = "argo-proxy-secret"
APPLICATION = {
    "metadata": {
        "name": "guestbook-staging",
        "namespace": "argocd",
        "labels": {"freightyard.io/pipeline": "guestbook", "freightyard.io/stage": "staging"},
        "annotations": {"freightyard.io/freight-alias": "x"},
    },
    "spec": {"project": "default"},
}
ARGOCD_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<div id="status"></div><div id="view"></div>
<script src="/react.js"></script><script src="/react-dom.js"></script>
<script>
window.__registered = {status: [], views: []};
window.extensionsAPI = {
  registerStatusPanelExtension: (component, title, id, flyout) =>
    window.__registered.status.push({component, title, id, flyout}),
  registerAppViewExtension: (component, title, icon, shouldDisplay) =>
    window.__registered.views.push({component, title, icon, shouldDisplay}),
};
</script>
<script src="/extension.js"></script>
<script>
const app = APPLICATION;
const h = React.createElement;
const status = window.__registered.status[0], view = window.__registered.views[0];
window.__shouldDisplay = [view.shouldDisplay(app), view.shouldDisplay({metadata: {name: "other", labels: {}}})];
ReactDOM.createRoot(document.getElementById("status")).render(h(status.component, {application: app, openFlyout() {}}));
ReactDOM.createRoot(document.getElementById("view")).render(h(view.component, {application: app, tree: {}}));
window.prompt = () => "looks good";
</script></body></html>"""


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cache") / "run"


@pytest.fixture
def workdir(demo_cache: Path, tmp_path: Path) -> Path:
    return demo_copy(demo_cache, tmp_path / "demo")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with Browser.start(tmp_path) as running:
        yield running


def standalone(workdir: Path) -> HttpServer:
    routes = Routes(
        health=lambda: Answer.json(200, {}),
        ready=lambda: Answer.json(200, {}),
        metrics=lambda: Answer(404, b"", "text/plain"),
        webhook=lambda *_: Answer.json(404, {}),
        api=api(workdir, Trust(local_user="user:tester")).handle,
        page=page,
    )
    return HttpServer(routes, "127.0.0.1", 0)


STAGES_JS = """[...document.querySelectorAll('[data-stage]')].map(card => ({
  stage: card.dataset.stage,
  freight: [...card.querySelectorAll('[data-origin]')].map(r => [r.dataset.origin, r.dataset.freight, r.innerText]),
  candidate: [...card.querySelectorAll('[data-candidate]')].map(c => [c.dataset.eligible, c.innerText]),
}))"""


@pytest.mark.integration
def test_the_page_shows_every_stage_with_its_freight_per_origin(
    workdir: Path, browser: Browser, tmp_path: Path
) -> None:
    state = engine(workdir, pipelines(workdir)[0]).state()
    with standalone(workdir) as server:
        browser.goto(f"http://127.0.0.1:{server.port}/")
        browser.wait("document.body.dataset.ready === 'true'")
        cards = browser.eval(STAGES_JS)
        shot = browser.screenshot(tmp_path / "page.png")
        shutil.copy(shot, Path(os.environ.get("FREIGHTYARD_UI_SHOT", tmp_path / "kept.png")))
    assert sorted(c["stage"] for c in cards) == ["dev", "hotfix", "prod", "staging"]
    for card in cards:
        held = state.stages[card["stage"]].collection_ids()  # the demo's two warehouses: main and redis
        assert [(origin, freight) for origin, freight, _ in card["freight"]] == sorted(held.items())
        for _, freight_id, text in card["freight"]:
            assert state.freight[freight_id].alias in text
    assert shot.stat().st_size > 20_000  # a real picture, looked at while writing this test


@pytest.mark.integration
def test_clicking_promote_changes_the_state_and_an_ineligible_candidate_says_why(
    workdir: Path, browser: Browser
) -> None:
    pipeline = pipelines(workdir)[0]
    newest = next(iter(engine(workdir, pipeline).state().freight.values()))
    with standalone(workdir) as server:
        browser.goto(f"http://127.0.0.1:{server.port}/")
        browser.wait("document.querySelector('[data-stage=staging] [data-action=promote]')")
        browser.eval("document.querySelector('[data-stage=staging] [data-action=promote]').click()")
        browser.wait("document.querySelector('.fy-msg.fy-info')")
        current = engine(workdir, pipeline).state().stages["staging"].current
        assert current is not None and (current.freight, current.by) == (newest.id, "user:tester")

        fresh = Freight(origin="main", commits=(Commit(repo_url=newest.commits[0].repo_url, id="e" * 40),))
        engine(workdir, pipeline).add_freight(fresh)
        browser.goto(f"http://127.0.0.1:{server.port}/")
        browser.wait("document.querySelector('[data-stage=staging] [data-eligible=false]')")
        cards = {c["stage"]: c for c in browser.eval(STAGES_JS)}
    eligible, text = cards["staging"]["candidate"][0]
    assert eligible == "false" and "not verified in dev" in text and fresh.alias in text
    assert cards["dev"]["candidate"][0][0] == "true"  # dev takes it directly


class FakeArgoCD(BaseHTTPRequestHandler):
    """Argo CD's server as far as the extension sees it: static files and the proxy extension path."""

    api: Api
    seen: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        files = {
            "/argocd.html": ARGOCD_PAGE.replace("APPLICATION", json.dumps(APPLICATION)).encode(),
            "/react.js": REACT.read_bytes(),
            "/react-dom.js": REACT_DOM.read_bytes(),
            "/extension.js": (UI / "extension-freightyard.js").read_bytes(),
        }
        if self.path in files:
            self._reply(Answer(200, files[self.path], "text/html" if self.path.endswith("html") else "text/javascript"))
        else:
            self._proxy("GET", b"")

    def do_POST(self) -> None:
        self._proxy("POST", self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _proxy(self, method: str, body: bytes) -> None:
        prefix = "/extensions/freightyard"
        if not self.path.startswith(prefix + "/"):
            self._reply(Answer.json(404, {"message": "not found"}))
            return
        sent = {k.lower(): v for k, v in self.headers.items()}
        self.seen.append({"method": method, "path": self.path, "headers": sent})
        forwarded = {k: v for k, v in sent.items() if not k.startswith(("argocd-user", "freightyard-"))}
        forwarded.update({"Freightyard-Proxy-Secret": SECRET, "Argocd-Username": "alice", "Argocd-User-Groups": "ops"})
        self._reply(self.api.handle(method, self.path[len(prefix) :], forwarded, body))

    def _reply(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


@pytest.mark.integration
def test_the_extension_renders_in_argo_cd_and_acts_through_the_proxy(
    workdir: Path, browser: Browser, tmp_path: Path
) -> None:
    if not REACT.exists():
        pytest.fail("node_modules/react is missing: run `npm ci` (scripts/install-tools.sh does)")
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (FakeArgoCD,), {"api": api(workdir, Trust(proxy_secret=SECRET)), "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipeline = pipelines(workdir)[0]
    newest = next(iter(engine(workdir, pipeline).state().freight.values()))
    try:
        browser.goto(f"http://127.0.0.1:{server.server_address[1]}/argocd.html")
        status = browser.wait(
            "(t => t && t.includes('Succeeded') && t)(document.querySelector('[data-freightyard-status]')?.innerText)"
        )
        browser.wait("document.querySelector('#view [data-stage=staging] [data-action=promote]')")
        stages = browser.eval("[...document.querySelectorAll('#view [data-stage]')].map(c => c.dataset.stage)")
        focus = browser.eval("document.querySelector('#view .fy-focus')?.dataset.stage")
        should = browser.eval("window.__shouldDisplay")
        browser.eval("document.querySelector('#view [data-stage=staging] [data-action=promote]').click()")
        browser.wait("document.querySelector('#view .fy-msg.fy-info')")
        browser.screenshot(tmp_path / "extension.png")
    finally:
        server.shutdown()
        server.server_close()
    assert "guestbook / staging" in status and "verification Succeeded" in status
    assert sorted(stages) == ["dev", "hotfix", "prod", "staging"] and focus == "staging" and should == [True, False]
    posts = [s for s in seen if s["method"] == "POST"]
    assert [p["path"] for p in posts] == [
        "/extensions/freightyard/api/v1/pipelines/guestbook/stages/staging/promotions"
    ]
    assert all(s["headers"]["argocd-application-name"] == "argocd:guestbook-staging" for s in seen)
    assert all(s["headers"]["argocd-project-name"] == "default" for s in seen)
    current = engine(workdir, pipeline).state().stages["staging"].current
    assert current is not None and (current.freight, current.by) == (newest.id, "argocd:alice")


def big_pipeline(directory: Path) -> Path:
    """50 stages (10 regions x 5 steps) and 200 apps: the size Kargo users say their graphs stop being legible."""
    steps = ["dev", "qa", "stage", "canary", "prod"]
    stages = []
    directory.mkdir(parents=True)
    for region in range(10):
        for index, step in enumerate(steps):
            name = f"region-{region}-{step}"
            sources = {"direct": True} if index == 0 else {"stages": [f"region-{region}-{steps[index - 1]}"]}
            apps = [{"name": f"svc-{a}", "path": f"apps/svc-{a}/{name}"} for a in range(4)]
            for app in apps:
                (directory / app["path"]).mkdir(parents=True)
            stages.append({"name": name, "requestedFreight": [{"origin": "main", "sources": sources}], "apps": apps})
    document = {
        "apiVersion": "freightyard.io/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "fleet"},
        "spec": {
            "warehouses": [{"name": "main", "subscriptions": [{"git": {"repoURL": "https://git.example/fleet.git"}}]}],
            "stages": stages,
        },
    }
    (directory / "fleet.yaml").write_text(yaml.safe_dump(document))
    return directory


@pytest.mark.integration
def test_fifty_stages_and_two_hundred_apps_stay_legible(tmp_path: Path, browser: Browser) -> None:
    from freightyard.shared.engine.promotion import Engine
    from freightyard.shared.pipeline_files import load_pipelines
    from freightyard.shared.stores.file import FileStore

    found = load_pipelines(big_pipeline(tmp_path / "pipelines"))
    state_file = tmp_path / "state" / "fleet.yaml"
    Engine(found[0], FileStore(state_file)).add_freight(
        Freight(origin="main", commits=(Commit(repo_url="https://git.example/fleet.git", id="c" * 40),))
    )
    routes = Routes(
        health=lambda: Answer.json(200, {}),
        ready=lambda: Answer.json(200, {}),
        metrics=lambda: Answer(404, b"", "text/plain"),
        webhook=lambda *_: Answer.json(404, {}),
        api=Api(lambda: found, lambda p: Engine(p, FileStore(state_file)), Trust(local_user="user:t")).handle,
        page=page,
    )
    with HttpServer(routes, "127.0.0.1", 0) as server:
        browser.goto(f"http://127.0.0.1:{server.port}/")
        browser.wait("document.body.dataset.ready === 'true'")
        overlaps = browser.eval("""(() => {
          const boxes = [...document.querySelectorAll('[data-stage]')].map(c => c.getBoundingClientRect());
          let n = 0;
          for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i], b = boxes[j];
            if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) n++;
          }
          return [boxes.length, n, document.querySelectorAll('details[open]').length];
        })()""")
        browser.screenshot(tmp_path / "fleet.png")
        browser.eval("""(() => { const s = document.querySelector('input[type=search]');
          s.value = 'region-3'; s.dispatchEvent(new Event('input')); })()""")
        visible = browser.eval(
            "[...document.querySelectorAll('[data-stage]:not(.fy-hidden)')].map(c => c.dataset.stage)"
        )
        count = browser.eval("document.querySelector('.fy-count').innerText")
        browser.eval("document.querySelector('[data-action=collapse]').click()")
        opened = browser.eval("document.querySelectorAll('details[open]').length")
        shutil.copy(browser.screenshot(tmp_path / "fleet-filtered.png"), tmp_path / "kept-fleet.png")
    assert overlaps == [50, 0, 0]  # every stage drawn, none on top of another, app lists collapsed at this size
    assert visible == [f"region-3-{s}" for s in ("dev", "qa", "stage", "canary", "prod")]
    assert count == "5 of 50 stages · 200 apps" and opened == 50
