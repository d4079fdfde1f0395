"""Chart freight renders with the real helm from a real chart repository (HTTP and OCI), at exactly
the freight's chart version, with the freight's image pinned by digest."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from freightyard.shared.core.errors import RenderError
from freightyard.shared.core.freight import Chart, Freight, Image
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.render import RenderEnv, render_app
from freightyard.shared.render.env import find_tools
from tests.helpers.tools import missing_tool
from tests.servers.helm_repo import HelmRepoServer, create_chart, package_chart, push_chart_oci
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[1]
IMAGE = "registry.example.com/org/web"
DIGEST = "sha256:" + "d" * 64


def pipeline_for(repo_url: str, *, insecure: bool, credentials: str = "") -> str:
    extra = f", credentials: {credentials}" if credentials else ""
    return f"""\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: charts}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - chart: {{repoURL: "{repo_url}", name: web, insecure: {str(insecure).lower()}{extra}}}
    - image: {{repoURL: {IMAGE}}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    apps:
    - {{name: web, path: web, repoURL: "https://git.example.com/org/values.git", destination: {{namespace: web-dev}}}}
"""


@pytest.fixture
def env(tmp_path: Path) -> RenderEnv:
    kustomize, helm = find_tools({"FREIGHTYARD_TOOLS_DIR": str(REPO / ".tools"), "PATH": ""})
    if not helm:
        missing_tool("no pinned helm in .tools/bin (run scripts/install-tools.sh)")
    homes = {f"HELM_{kind}_HOME": str(tmp_path / "helm" / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    return RenderEnv(kustomize=kustomize, helm=helm, kube_version="1.31", extra_env=homes)


def chart_package(tmp_path: Path, version: str) -> Path:
    chart = create_chart(tmp_path / "src", "web", version)
    return package_chart(chart, tmp_path / "pkg")


def render(
    tmp_path: Path, env: RenderEnv, repo_url: str, version: str, *, insecure: bool = False, credentials: str = ""
) -> list[dict]:
    root = tmp_path / f"repo-{uuid.uuid4().hex[:6]}"
    (root / "web").mkdir(parents=True)
    (root / "web" / "values.yaml").write_text(f"image: {{repository: {IMAGE}}}\nreplicaCount: 2\n")
    (pipeline,) = parse_pipelines(pipeline_for(repo_url, insecure=insecure, credentials=credentials))
    freight = Freight("main", charts=(Chart(repo_url, "web", version),), images=(Image(IMAGE, version, DIGEST),))
    app = pipeline.stage("dev").apps[0]
    return list(yaml.safe_load_all(render_app(pipeline, "dev", app, freight, root, env).manifests))


def check(objects: list[dict], version: str) -> None:
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == f"web-{version}"
    assert deployment["metadata"]["annotations"]["freightyard.io/stage"] == "dev"
    assert deployment["spec"]["replicas"] == 2  # the app directory's values.yaml applies
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{IMAGE}:{version}@{DIGEST}"


def test_chart_from_an_http_repository_at_the_freight_version(
    helm_repo: HelmRepoServer, tmp_path: Path, env: RenderEnv
) -> None:
    helm_repo.add_charts({"web": ["1.0.0", "1.1.0"]})
    check(render(tmp_path, env, helm_repo.url, "1.0.0"), "1.0.0")
    check(render(tmp_path, env, helm_repo.url, "1.1.0"), "1.1.0")
    with pytest.raises(RenderError, match="helm template web failed"):
        render(tmp_path, env, helm_repo.url, "9.9.9")


def test_chart_from_an_oci_registry(registry: Registry, tmp_path: Path, env: RenderEnv) -> None:
    namespace = f"charts-{uuid.uuid4().hex[:6]}"
    push_chart_oci(chart_package(tmp_path, "2.0.0"), registry.host, namespace=namespace, home=tmp_path / "h")
    check(render(tmp_path, env, f"oci://{registry.host}/{namespace}", "2.0.0", insecure=True), "2.0.0")


def test_private_chart_repositories_use_the_subscriptions_credentials(
    tmp_path: Path, env: RenderEnv, registry_basic: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "pw-" + uuid.uuid4().hex[:8]
    with HelmRepoServer(tmp_path / "private", username="reader", password=password) as private:
        private.add_charts({"web": ["3.0.0"]})
        with pytest.raises(RenderError) as refused:  # no credentials: helm is refused, one clean line
            render(tmp_path, env, private.url, "3.0.0")
        assert password not in str(refused.value)
        monkeypatch.setenv("CHARTS_USERNAME", "reader")
        monkeypatch.setenv("CHARTS_PASSWORD", password)
        check(render(tmp_path, env, private.url, "3.0.0", credentials="charts"), "3.0.0")
        monkeypatch.setenv("CHARTS_PASSWORD", "wrong-" + password)
        with pytest.raises(RenderError) as wrong:
            render(tmp_path, env, private.url, "3.0.0", credentials="charts")
        assert password not in str(wrong.value)

    namespace = f"private-{uuid.uuid4().hex[:6]}"
    push_chart_oci(
        chart_package(tmp_path, "4.0.0"),
        registry_basic.host,
        namespace=namespace,
        username=registry_basic.username,
        password=registry_basic.password,
        home=tmp_path / "h",
    )
    monkeypatch.setenv("OCI_USERNAME", str(registry_basic.username))
    monkeypatch.setenv("OCI_PASSWORD", str(registry_basic.password))
    check(
        render(tmp_path, env, f"oci://{registry_basic.host}/{namespace}", "4.0.0", insecure=True, credentials="oci"),
        "4.0.0",
    )
