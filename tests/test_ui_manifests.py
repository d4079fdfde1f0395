"""manifests/ui builds with real kustomize over a minimal Argo CD plus manifests/install, both variants."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers.tools import kubectl_path

ROOT = Path(__file__).resolve().parent.parent
ARGOCD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-server}
spec:
  selector: {matchLabels: {app: argocd-server}}
  template:
    metadata: {labels: {app: argocd-server}}
    spec:
      containers:
      - {name: argocd-server, image: quay.io/argoproj/argocd:v2.13.3, volumeMounts: []}
      volumes: []
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: argocd-cm}}
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: argocd-cmd-params-cm}}
---
{apiVersion: v1, kind: ConfigMap, metadata: {name: argocd-rbac-cm}, data: {policy.csv: "g, admins, role:admin"}}
"""


def build(tmp_path: Path, component: str) -> dict[tuple[str, str], dict[str, Any]]:
    (tmp_path / "argocd.yaml").write_text(ARGOCD)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "argocd",
        "resources": ["argocd.yaml", os.path.relpath(ROOT / "manifests" / "install", tmp_path)],
        "components": [os.path.relpath(ROOT / "manifests" / component, tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    out = subprocess.run(
        [kubectl_path(), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}


@pytest.mark.integration
@pytest.mark.parametrize("component", ["ui", "ui/init-container"])
def test_the_ui_component_wires_argo_cd_to_the_controller(tmp_path: Path, component: str) -> None:
    docs = build(tmp_path, component)
    assert docs[("ConfigMap", "argocd-cmd-params-cm")]["data"]["server.enable.proxy.extension"] == "true"
    config = yaml.safe_load(docs[("ConfigMap", "argocd-cm")]["data"]["extension.config"])
    service = config["extensions"][0]["backend"]["services"][0]
    assert config["extensions"][0]["name"] == "freightyard"
    assert service["headers"] == [{"name": "Freightyard-Proxy-Secret", "value": "$freightyard-ui-proxy:secret"}]
    rbac = docs[("ConfigMap", "argocd-rbac-cm")]["data"]
    assert rbac["policy.csv"] == "g, admins, role:admin"  # the user's own policy is untouched
    assert "p, role:readonly, extensions, invoke, freightyard, allow" in rbac["policy.freightyard.csv"]
    secret = docs[("Secret", "freightyard-ui-proxy")]
    assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    controller = docs[("Deployment", "freightyard-controller")]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in controller["containers"][0]["env"]}
    assert env["FREIGHTYARD_UI_PROXY_SECRET_FILE"] == "/var/run/freightyard/ui/secret"
    assert {"name": "ui-proxy", "secret": {"secretName": "freightyard-ui-proxy"}} in controller["volumes"]
    server = docs[("Deployment", "argocd-server")]["spec"]["template"]["spec"]
    mounts = server["containers"][0]["volumeMounts"]
    assert [m["mountPath"] for m in mounts] == ["/tmp/extensions/freightyard"]
    if component == "ui":
        bundle = docs[("ConfigMap", "freightyard-ui-extension")]["data"]["extension-freightyard.js"]
        assert bundle == (ROOT / "controller" / "ui" / "extension-freightyard.js").read_text()
    else:
        init = server["initContainers"][0]
        assert "extension-freightyard.js" in init["command"][-1]
        assert init["volumeMounts"][0]["mountPath"] == "/tmp/extensions/freightyard"
