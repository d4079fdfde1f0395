"""Every pipeline in examples/ end to end: real git over HTTP, the real registry (and a Helm repo),
kmock for Argo CD Applications; asserting branches, files, Application patches and stage state."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from freightyard.shared.core.errors import NotEligibleError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import format_time
from freightyard.shared.credentials import no_credentials
from freightyard.shared.engine.discovery import discover
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.render.stage import render_stage
from freightyard.shared.settings import EngineSettings
from freightyard.shared.sources.factory import DefaultSources
from freightyard.shared.sources.git import GitMirrors
from freightyard.shared.stores.file import FileStore
from freightyard.shared.verification.runner import verify
from tests.helpers.mechanism_fixtures import commit_files, head, render_env, show
from tests.servers.git_http import GitHttpServer, init_bare_repo
from tests.servers.helm_repo import HelmRepoServer
from tests.servers.kube_emulator import KubeEmulator
from tests.servers.oci import Blob, RegistryClient, push_image
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
APP = "argoproj.io/v1alpha1/applications"


@dataclass
class World:
    """One example's world: its repo on the git server, images in the registry, engines on file stores."""

    example: str
    tmp: Path
    server: GitHttpServer
    registry: Registry
    subs: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unique = uuid.uuid4().hex[:8]
        self.prefix = unique
        self.subs.update(
            {
                "https://git.example.com/org/": f"{self.server.url}/{unique}/",
                "registry.example.com/": f"{self.registry.host}/{unique}/",
            }
        )
        files = {
            str(p.relative_to(self.dir / "repo")): self.sub(p.read_text())
            for p in sorted((self.dir / "repo").rglob("*"))
            if p.is_file()
        }
        self.bare = init_bare_repo(self.server.root, f"{unique}/{self.example}.git", files)
        self.url = f"{self.server.url}/{unique}/{self.example}.git"
        self.sources = DefaultSources(
            cache_dir=self.tmp / "cache", credentials=no_credentials, insecure_hosts=frozenset({self.registry.host})
        )

    @property
    def dir(self) -> Path:
        return EXAMPLES / self.example

    def sub(self, text: str) -> str:
        for old, new in self.subs.items():
            text = text.replace(old, new)
        return text

    def pipelines(self) -> dict[str, Pipeline]:
        return {p.name: p for p in parse_pipelines(self.sub((self.dir / "pipeline.yaml").read_text()))}

    def engine(self, name: str) -> Engine:
        pipeline = self.pipelines()[name]
        return Engine(
            pipeline,
            FileStore(self.tmp / f"state-{name}.yaml"),
            cache_dir=self.tmp / "cache",
            settings=EngineSettings(**{"render_env": render_env(), "credentials": no_credentials, **self.settings}),
        )

    def push(self, repo: str, tag: str) -> str:
        return push_image(self.registry.url, f"{self.prefix}/{repo}", tag)

    def retag(self, repo: str, tag: str, new_tag: str) -> str:
        """A reproducible rebuild: the same manifest (same digest) under another tag."""
        client = RegistryClient(self.registry.url)
        body, media_type, _ = client.get_manifest(f"{self.prefix}/{repo}", tag)
        return client.put_manifest(f"{self.prefix}/{repo}", new_tag, Blob(media_type, body))

    def discover(self, engine: Engine, warehouse: str = "") -> Freight:
        found = [discover(w, self.sources) for w in engine.pipeline.warehouses if not warehouse or w.name == warehouse]
        freight = found[0].freight
        assert freight is not None, found[0].reason
        engine.add_freight(freight)
        return freight


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path, git_http_server: GitHttpServer, registry: Registry) -> World:
    return World(request.param, tmp_path, git_http_server, registry)


def test_every_example_has_a_readme_line_and_validates() -> None:
    from freightyard.shared.pipeline_files import load_pipelines

    names = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    assert names == [
        "common-case",
        "direct-and-upstream",
        "gates",
        "hotfix-lane",
        "image-updater",
        "monorepo",
        "pre-pipeline",
        "quick-and-dirty",
    ]
    for name in names:
        readme = (EXAMPLES / name / "README.md").read_text().strip()
        assert readme and "\n" not in readme
        assert load_pipelines(EXAMPLES / name / "pipeline.yaml", repo_root=EXAMPLES / name / "repo")


@pytest.mark.parametrize("world", ["hotfix-lane"], indirect=True)
def test_hotfix_lane(world: World) -> None:
    engine = world.engine("hotfix-lane")
    digest = world.push("guestbook", "1.0.0")
    first = world.discover(engine)
    assert first.images[0].digest == digest and first.commits[0].id == head(world.bare, "main")
    assert engine.promote(first.id, "dev", "t").revision == first.commits[0].id
    engine.promote(first.id, "staging", "t")
    world.push("guestbook", "1.0.1")
    hotfix = world.discover(engine)
    assert hotfix.images[0].tag == "1.0.1"
    with pytest.raises(NotEligibleError, match="not verified in staging"):
        engine.promote(hotfix.id, "prod", "t")
    assert engine.promote(hotfix.id, "hotfix", "t").message == "recorded (stage has no promotion mechanism)"
    with pytest.raises(NotEligibleError, match=r"soaking in hotfix: (1h|59m[0-9]+s) of 1h left"):
        engine.promote(hotfix.id, "prod", "t")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, minutes=1)
    engine.clock = lambda: later
    assert engine.promote(hotfix.id, "prod", "t").phase == "Succeeded"
    assert engine.state().stages["prod"].verifications[hotfix.id].phase == "Pending"
    outcome = verify(engine, "prod")
    assert outcome.phase == "Succeeded" and [c.name for c in outcome.checks] == ["command smoke"]
    state = engine.state()
    assert state.current_freight("prod") == hotfix and state.current_freight("staging") == first


@pytest.mark.parametrize("world", ["common-case"], indirect=True)
def test_common_case(world: World) -> None:
    engine = world.engine("common-case")
    digest = world.push("guestbook", "1.0.0")
    first = world.discover(engine)
    for stage in ("dev", "staging", "prod"):
        assert engine.promote(first.id, stage, "t").phase == "Succeeded"
    for stage, branch in (("dev", "env/dev"), ("staging", "env/staging"), ("prod", "release/prod")):
        manifests = show(world.bare, branch, f"apps/guestbook/overlays/{stage}/manifests.yaml") or ""
        assert f"/guestbook:1.0.0@{digest}" in manifests and f"namespace: guestbook-{stage}" in manifests
        assert engine.state().stages[stage].current.revision == head(world.bare, branch)  # type: ignore[union-attr]
    from tests.helpers.mechanism_fixtures import git_out

    assert (
        git_out(world.bare, "log", "-1", "--format=%s|%an", "env/staging")
        == f"render {first.alias} for staging|Freightyard Bot"
    )
    assert f"Freightyard-Freight: {first.id}" in git_out(world.bare, "log", "-1", "--format=%B", "env/dev")

    # a change to the dev overlay only: dev gets a new render, staging's render is unchanged (no-op, no commit)
    commit_files(
        world.bare,
        {
            "apps/guestbook/overlays/dev/kustomization.yaml": (
                "resources: [../../base]\nnamespace: guestbook-dev\ncommonLabels: {tier: web}\n"
            )
        },
    )
    second = world.discover(engine)
    staging_head = head(world.bare, "env/staging")
    assert engine.promote(second.id, "dev", "t").phase == "Succeeded"
    assert "tier: web" in (show(world.bare, "env/dev", "apps/guestbook/overlays/dev/manifests.yaml") or "")
    record = engine.promote(second.id, "staging", "t")
    assert record.phase == "Noop" and head(world.bare, "env/staging") == staging_head == record.revision
    assert engine.state().stages["staging"].verifications[second.id].phase == "Succeeded"


@pytest.mark.parametrize("world", ["image-updater"], indirect=True)
def test_image_updater_on_steroids(world: World) -> None:
    engine = world.engine("image-updater")
    digest = world.push("guestbook", "1.0.0")
    first = world.discover(engine)
    assert not first.commits
    record = engine.promote(first.id, "dev", "t")
    assert record.revision == head(world.bare, "main")
    overlay = yaml.safe_load(show(world.bare, "main", "apps/guestbook/overlays/dev/kustomization.yaml") or "")
    assert overlay["images"] == [{"name": first.images[0].repo_url, "newTag": "1.0.0", "digest": digest}]
    assert (show(world.bare, "main", "apps/guestbook/overlays/dev/kustomization.yaml") or "").startswith(
        "# guestbook in dev\n"
    )
    trunk = head(world.bare, "main")
    engine.promote(first.id, "prod", "t")
    values = show(world.bare, "env/prod", "charts/guestbook/values-prod.yaml") or ""
    assert f'tag: "1.0.0@{digest}"' in values and values.startswith("# prod values for the guestbook chart\n")
    assert head(world.bare, "main") == trunk


@pytest.mark.parametrize("world", ["pre-pipeline"], indirect=True)
def test_pre_pipeline_then_copy_and_render(world: World) -> None:
    pre, main = world.engine("pre-pipeline"), world.engine("guestbook")
    digest = world.push("guestbook", "1.2.0")
    images = world.discover(pre)
    trunk = pre.promote(images.id, "trunk", "t").revision
    assert trunk == head(world.bare, "main")
    assert digest in (show(world.bare, "main", "apps/guestbook/base/kustomization.yaml") or "")
    commit = world.discover(main)
    assert commit.commits[0].id == trunk and not commit.images
    main.promote(commit.id, "dev", "t")
    assert show(world.bare, "env/dev", "apps/guestbook/base/kustomization.yaml") == show(
        world.bare, "main", "apps/guestbook/base/kustomization.yaml"
    )
    assert show(world.bare, "env/dev", "apps/guestbook/overlays/prod/kustomization.yaml") is not None
    main.promote(commit.id, "prod", "t")
    rendered = show(world.bare, "env/prod", "apps/guestbook/overlays/prod/manifests.yaml") or ""
    assert f"@{digest}" in rendered and "namespace: guestbook-prod" in rendered


@pytest.mark.parametrize("world", ["quick-and-dirty"], indirect=True)
def test_quick_and_dirty_application_updates(world: World, kube: KubeEmulator, api: KubeApi, tmp_path: Path) -> None:
    with HelmRepoServer(tmp_path / "charts") as charts:
        charts.add_charts({"grafana": ["1.0.0", "1.2.0", "2.0.0"]})
        world.subs["https://charts.example.com"] = charts.url
        world.settings["kube_api"] = lambda: api
        for app in yaml.safe_load_all(world.sub((world.dir / "applications.yaml").read_text())):
            kube.put_object(APP, app)
        engine = world.engine("quick-and-dirty")

        digest = world.push("podinfo", "6.1.0")
        image = world.discover(engine, "podinfo")
        engine.promote(image.id, "images", "t")
        podinfo = kube.object(APP, "argocd", "podinfo") or {}
        repo = image.images[0].repo_url
        assert podinfo["spec"]["source"]["kustomize"]["images"] == [f"{repo}={repo}@{digest}"]
        assert podinfo["spec"]["source"]["targetRevision"] == "master"
        argo_reconciles(kube, "podinfo", "master")
        assert (
            verify(engine, "images", poll=0, sleep=lambda _: argo_reconciles(kube, "podinfo", "")).phase == "Succeeded"
        )

        chart = world.discover(engine, "grafana")
        assert chart.charts[0].version == "1.2.0"
        engine.promote(chart.id, "charts", "t")
        grafana = kube.object(APP, "argocd", "grafana") or {}
        assert grafana["spec"]["source"]["targetRevision"] == "1.2.0"
        assert grafana["spec"]["source"]["helm"]["parameters"] == [
            {"name": "replicas", "value": "2"},
            {"name": "podAnnotations.chart", "value": "1.2.0"},
        ]

        config = world.discover(engine, "config")
        record = engine.promote(config.id, "config", "t")
        team = kube.object(APP, "argocd", "team-config") or {}
        assert team["spec"]["source"]["targetRevision"] == head(world.bare, "main") == record.revision
        assert team["metadata"]["annotations"]["freightyard.io/freight"] == config.id


def argo_reconciles(kube: KubeEmulator, name: str, revision: str) -> None:
    """Stand in for Argo CD: drop the refresh annotation and report a synced, healthy App."""
    app = kube.object(APP, "argocd", name) or {}
    app["metadata"]["annotations"].pop("argocd.argoproj.io/refresh", None)
    rev = revision or app["spec"]["source"]["targetRevision"]
    app["status"] = {
        "reconciledAt": format_time(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)),
        "sync": {"status": "Synced", "revision": rev},
        "health": {"status": "Healthy"},
        "operationState": {"phase": "Succeeded", "syncResult": {"revision": rev}},
    }
    kube.put_object(APP, app)


@pytest.mark.parametrize("world", ["monorepo"], indirect=True)
def test_monorepo_commit_tagged_images_and_per_app_noops(world: World) -> None:
    engine = world.engine("monorepo")
    first_sha = head(world.bare, "main")
    digest = world.push("guestbook", first_sha)
    first = world.discover(engine)
    assert first.images[0].tag == first_sha and first.images[0].digest == digest
    engine.promote(first.id, "dev", "t")
    assert verify(engine, "dev").phase == "Succeeded"
    engine.promote(first.id, "cart-prod", "t")
    assert verify(engine, "cart-prod").phase == "Succeeded"  # a no-op inherits only a verified render

    from tests.helpers.mechanism_fixtures import DEPLOYMENT

    second_sha = commit_files(
        world.bare,
        {
            "apps/guestbook/base/deployment.yaml": world.sub(
                DEPLOYMENT.replace("APP", "guestbook").replace(
                    "registry.example.com/guestbook:0.0.0", "registry.example.com/guestbook"
                )
            )
            + "  replicas: 2\n"
        },
    )
    assert world.discover(engine).commits[0].id == first_sha  # no image for the new commit yet: look back
    second_digest = world.push("guestbook", second_sha)
    second = world.discover(engine)
    assert second.commits[0].id == second_sha and second.images[0].digest == second_digest
    record = engine.promote(second.id, "dev", "t")
    assert record.phase == "Succeeded" and record.changed_apps == ["guestbook"]  # cart's render is unchanged
    rendered = render_stage(
        engine.pipeline,
        engine.pipeline.stage("dev"),
        second,
        mirrors=GitMirrors(world.tmp / "cache"),
        env=render_env(),
        workdir=world.tmp / "r",
    )
    manifests = rendered.apps["guestbook"].manifests.decode()
    assert f"/guestbook@{second_digest}" in manifests  # injected by digest: the commit tag is not rendered
    assert second_sha not in manifests
    assert verify(engine, "dev").phase == "Succeeded"
    noop = engine.promote(second.id, "cart-prod", "t")
    assert noop.phase == "Noop" and noop.revision == second_sha
    assert engine.state().stages["cart-prod"].verifications[second.id].phase == "Skipped"
    assert verify(engine, "cart-prod").phase == "Skipped"

    # A cart-only commit; CI rebuilds guestbook reproducibly: same image, new commit tag, same digest.
    third_sha = commit_files(
        world.bare, {"apps/cart/base/deployment.yaml": world.sub(DEPLOYMENT.replace("APP", "cart")) + "  replicas: 3\n"}
    )
    assert world.retag("guestbook", second_sha, third_sha) == second_digest
    third = world.discover(engine)
    assert third.commits[0].id == third_sha and third.images[0].tag == third_sha
    record = engine.promote(third.id, "dev", "t")
    assert record.phase == "Succeeded" and record.changed_apps == ["cart"]  # guestbook's pods are not touched


@pytest.mark.parametrize("world", ["direct-and-upstream"], indirect=True)
def test_stage_with_direct_and_upstream_sources(world: World) -> None:
    engine = world.engine("direct-and-upstream")
    world.push("guestbook", "1.0.0")
    first = world.discover(engine)
    engine.promote(first.id, "dev", "t")
    engine.promote(first.id, "qa", "t")  # via dev (verified there: dev has no checks)
    world.push("guestbook", "1.0.1")
    hotfix = world.discover(engine)
    engine.promote(hotfix.id, "qa", "t")  # straight from the warehouse: dev never saw it
    assert engine.state().current_freight("dev") == first
    with pytest.raises(NotEligibleError, match=r"verification in qa is pending"):
        engine.promote(hotfix.id, "prod", "t")
    assert verify(engine, "qa", hotfix.id).phase == "Succeeded"
    assert engine.promote(hotfix.id, "prod", "t").phase == "Succeeded"


@pytest.mark.parametrize("world", ["gates"], indirect=True)
def test_gates_approvals_windows_and_rollback(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from freightyard.controller.cli import main
    from freightyard.controller.metrics import Metrics
    from freightyard.controller.runtime import autopromote
    from freightyard.controller.runtime.reconcile import ACTOR, Reconciler

    now = [dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)]  # Wednesday 10:00 in Berlin: office hours
    engine = world.engine("gates")
    engine.clock = lambda: now[0]
    controller = Reconciler(world.sources, Metrics.create())
    warehouse = engine.pipeline.warehouses[0]
    digest = world.push("guestbook", "1.0.0")
    controller.discover(engine, warehouse)
    assert [r.stage for r in controller.advance(engine).promoted] == ["dev"]  # prod waits for two approvals
    first = engine.state().current_freight("dev")
    assert first is not None
    with pytest.raises(NotEligibleError, match=r"prod needs 2 approvals from sre or release; has 0$"):
        engine.promote(first.id, "prod", "user:dave")
    engine.approve(first.id, "prod", "alice", groups=("sre",), reason="staging soak looked fine")
    engine.approve(first.id, "prod", "alice", groups=("sre",), reason="checked again")
    engine.approve(first.id, "prod", "carol", reason="lgtm")
    with pytest.raises(NotEligibleError, match=r"has 1 \(alice, 2026-12-02\); not counted: carol is not in sre"):
        engine.promote(first.id, "prod", "user:dave")
    engine.approve(first.id, "prod", "bob", groups=("release",), reason="release notes published")
    with pytest.raises(NotEligibleError, match="bob promotes, so their own approval does not count"):
        engine.promote(first.id, "prod", "bob")
    assert [r.stage for r in controller.advance(engine).promoted] == ["prod"]  # alice and bob: 2 of 2
    prod = engine.state().stages["prod"]
    assert prod.verifications[first.id].phase == "Succeeded"  # the smoke check ran in the controller's pass
    assert f"/guestbook:1.0.0@{digest}" in (
        show(world.bare, "env/prod", "apps/guestbook/overlays/prod/manifests.yaml") or ""
    )
    good_head = head(world.bare, "env/prod")

    now[0] = dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC)  # Friday 19:00 in Berlin: the weekend freeze
    world.push("guestbook", "1.0.1")
    controller.discover(engine, warehouse)
    advanced = controller.advance(engine)
    assert [r.stage for r in advanced.promoted] == ["dev"]
    bad = engine.state().current_freight("dev")
    assert bad is not None and bad.images[0].tag == "1.0.1"
    engine.approve(bad.id, "prod", "alice", groups=("sre",), reason="small fix")
    engine.approve(bad.id, "prod", "bob", groups=("release",), reason="small fix")
    advanced = controller.advance(engine)
    assert advanced.promoted == ()
    opens = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)  # Friday 18:00 CET + 63h = Monday 09:00 CET
    assert advanced.next_in == pytest.approx((opens - now[0]).total_seconds() + 1)
    with pytest.raises(
        NotEligibleError, match=r'inside deny window "0 18 \* \* 5" \(Europe/Berlin\) until 2026-12-07 09:00 CET'
    ):
        engine.promote(bad.id, "prod", "user:erin")

    now[0] = opens  # Monday 09:00: the controller promotes, the smoke check fails, prod rolls back and holds
    advanced = controller.advance(engine)
    assert [(r.stage, r.freight, r.phase) for r in advanced.promoted] == [("prod", bad.id, "Succeeded")]
    state = engine.state()
    prod = state.stages["prod"]
    assert state.current_freight("prod") == first
    assert prod.current is not None and prod.current.phase == "RolledBack" and prod.current.by == "controller:rollback"
    assert prod.current.message == f"rolled back: command smoke failed for {bad.alias}"
    assert [h.phase for h in prod.history[:3]] == ["RolledBack", "Succeeded", "Succeeded"]
    assert prod.verifications[bad.id].phase == "Failed" and "1.0.1 answers 500" in prod.verifications[bad.id].message
    assert prod.gates.failed[bad.id].check == "command smoke"
    assert prod.gates.hold is not None and f"rolled back to {first.alias}" in prod.gates.hold.reason
    assert prod.gates.rollbacks[0].restored == first.id
    assert prod.verifications[first.id].phase == "Succeeded"  # the restored freight was verified again
    rendered = show(world.bare, "env/prod", "apps/guestbook/overlays/prod/manifests.yaml") or ""
    assert f"/guestbook:1.0.0@{digest}" in rendered and head(world.bare, "env/prod") != good_head
    decision = autopromote.decide(engine.pipeline, state, engine.pipeline.stage("prod"), now[0], ACTOR)
    assert decision.promote is None and decision.why.startswith("auto-promotion held: verification of")
    assert controller.advance(engine).promoted == ()  # held, and 1.0.1 never goes back in by itself

    pipeline_file = world.tmp / "pipeline.yaml"
    pipeline_file.write_text(world.sub((world.dir / "pipeline.yaml").read_text()))
    (world.tmp / "apps" / "guestbook" / "overlays" / "dev").mkdir(parents=True)
    (world.tmp / "apps" / "guestbook" / "overlays" / "prod").mkdir(parents=True)
    common = ["-f", str(pipeline_file), "--state", f"file:{world.tmp / 'state-gates.yaml'}", "-o", "json"]
    assert main(["approvals", bad.alias, "--stage", "prod", *common]) == 0
    listed = json.loads(capsys.readouterr().out)["approvals"]
    assert [(a["by"], a.get("groups"), a["reason"]) for a in listed[0]["approvals"]] == [
        ("alice", ["sre"], "small fix"),
        ("bob", ["release"], "small fix"),
    ]
    assert main(["status", *common]) == 0
    gates = {s["stage"]: s["gates"] for s in json.loads(capsys.readouterr().out)["stages"]}
    assert gates["prod"]["hold"]["check"] == "command smoke"
    assert gates["prod"]["lastRollback"]["restored"] == first.id
    assert main(["status", *common[:-2]]) == 0
    table = capsys.readouterr().out
    assert "GATES" in table and "2/2 approvals" in table and "held: verification of" in table
    assert f"last rollback 2026-12-07T08:00:00Z: {bad.alias} -> {first.alias} (command smoke failed)" in table

    world.push("guestbook", "1.0.2")  # a fix arrives; Saturday night someone overrides the freeze on purpose
    now[0] = dt.datetime(2026, 12, 5, 21, 0, tzinfo=dt.UTC)
    controller.discover(engine, warehouse)
    controller.advance(engine)
    fix = engine.state().current_freight("dev")
    assert fix is not None and fix.images[0].tag == "1.0.2"
    for by, group in (("alice", "sre"), ("bob", "release")):
        assert main(["approve", fix.alias, "prod", "--by", by, "--group", group, "--reason", "fixes it", *common]) == 0
        assert json.loads(capsys.readouterr().out)["groups"] == [group]
    assert main(["status", *common]) == 0
    prod_gates = next(s for s in json.loads(capsys.readouterr().out)["stages"] if s["stage"] == "prod")["gates"]
    assert prod_gates["approvals"]["met"] and prod_gates["approvals"]["required"] == 2
    assert set(prod_gates["window"]) == {"open", "reason", "until"}  # status reads the real clock
    record = engine.promote(fix.id, "prod", "user:erin", override_window=True, reason="customer-facing 500s")
    assert record.phase == "Succeeded" and verify(engine, "prod").phase == "Succeeded"
    prod = engine.state().stages["prod"]
    assert prod.gates.hold is None and prod.gates.overrides[0].by == "user:erin"
    assert prod.gates.overrides[0].reason.startswith("customer-facing 500s [inside deny window")
