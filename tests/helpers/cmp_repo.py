"""The CMP tests' world: a real git repo of overlays, charts and deliberately broken apps (fixture
``git_repo``, loaded as a pytest plugin), and freight plus the plugin environment that pins it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from freightyard.shared.core.freight import Freight, Image

REPO = Path(__file__).resolve().parents[2]
PLUGIN = yaml.safe_load((REPO / "cmp" / "plugin.yaml").read_text())
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
IMAGE = "registry.example.com/org/guestbook"
OVERLAY = "apps/guestbook/overlays/dev"

PIPELINE = f"""\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: guestbook}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - image: {{repoURL: {IMAGE}}}
  - name: other
    subscriptions:
    - image: {{repoURL: registry.example.com/org/other}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    apps:
    - {{name: guestbook, path: {OVERLAY}}}
    - {{name: broken, path: apps/broken}}
    - {{name: escape, path: apps/escape}}
    - {{name: linked, path: apps/linked}}
    - {{name: absolute, path: apps/absolute}}
    - {{name: remote, path: apps/remote}}
    - {{name: plain, path: apps/plain}}
    - name: chart
      path: apps/chart
      helm:
        images:
        - key: image.ref
          value: '${{{{ imageFrom("{IMAGE}").repoURL }}}}@${{{{ imageFrom("{IMAGE}").digest }}}}'
  - name: prod
    requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    apps: [{{name: guestbook, path: apps/guestbook/overlays/prod}}]
"""

DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - {{name: web, image: "{IMAGE}:1.0.0"}}
      - {{name: side, image: registry.example.com/org/sidecar:2}}
"""

CHART_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
  namespace: {{ .Release.Namespace }}
data:
  image: {{ .Values.image.ref | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gitops") / "repo"
    write(
        root,
        {
            "pipelines/guestbook.yaml": PIPELINE,
            "apps/guestbook/base/kustomization.yaml": "resources: [deployment.yaml]\n",
            "apps/guestbook/base/deployment.yaml": DEPLOYMENT,
            f"{OVERLAY}/kustomization.yaml": "resources: [../../base]\nnamePrefix: dev-\n",
            "apps/guestbook/overlays/prod/kustomization.yaml": "resources: [../../base]\nnamePrefix: prod-\n",
            "apps/broken/kustomization.yaml": "resources: [missing.yaml]\n",
            "apps/escape/kustomization.yaml": "resources: [../../../outside]\n",
            "apps/linked/kustomization.yaml": "resources: [link.yaml]\n",
            "apps/absolute/kustomization.yaml": "resources: [/etc/passwd]\n",
            "apps/remote/kustomization.yaml": "resources: [https://github.com/example/repo//base?ref=v1]\n",
            "apps/plain/a.yaml": DEPLOYMENT,
            "apps/plain/b.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
            "apps/plain/notes.txt": "not a manifest\n",
            "apps/chart/Chart.yaml": "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
            "apps/chart/values.yaml": "image: {ref: none}\n",
            "apps/chart/templates/cm.yaml": CHART_TEMPLATE,
        },
    )
    (root / "apps/linked/link.yaml").symlink_to("/etc/hostname")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"],
        check=True,
    )
    return root


def freight(tag: str = "1.4.0", digest: str = DIGEST_A, origin: str = "main") -> Freight:
    return Freight(
        origin=origin, images=(Image(IMAGE if origin == "main" else "registry.example.com/org/other", tag, digest),)
    )


def pinned_env(f: Freight, **extra: str) -> dict[str, str]:
    return {"PIPELINE": "guestbook", "STAGE": "dev", "FREIGHT": f.to_json(), "FREIGHT_ID": f.id, **extra}
