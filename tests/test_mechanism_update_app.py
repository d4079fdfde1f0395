"""update-app against kmock's Kubernetes emulator: authorized Applications only, merge-patched specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from freightyard.shared.core.errors import ConfigError, MechanismError
from freightyard.shared.core.freight import Chart, Commit, Freight, Image
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.kube.client import KubeApi
from tests.helpers.mechanism_fixtures import DIGEST1, engine_for
from tests.servers.kube_emulator import KubeEmulator

APP = "argoproj.io/v1alpha1/applications"
REPO = "https://git.example.com/org/config.git"

PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {name: quick}
    spec:
      warehouses:
      - name: main
        subscriptions:
        - git: {repoURL: "https://git.example.com/org/config.git"}
        - image: {repoURL: registry.example.com/grafana}
        - chart: {repoURL: "https://charts.example.com", name: grafana}
      stages:
      - name: prod
        requestedFreight: [{origin: main, sources: {direct: true}}]
        promotion:
          mechanism: update-app
          applications:
          - {name: config}
          - name: grafana
            helmParameters:
            - {name: image.tag, value: "${{ imageFrom('registry.example.com/grafana').tag }}"}
    """


def application(name: str, source: dict[str, object], authorized: str = "quick:prod") -> dict[str, object]:
    annotations = {"freightyard.io/authorized-stage": authorized} if authorized else {}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "annotations": annotations},
        "spec": {"project": "default", "source": source},
    }


def the_freight() -> Freight:
    return Freight(
        "main",
        commits=(Commit(REPO, "c" * 40),),
        images=(Image("registry.example.com/grafana", "10.4.1", DIGEST1),),
        charts=(Chart("https://charts.example.com", "grafana", "7.3.9"),),
    )


def test_patches_target_revision_kustomize_images_and_helm_parameters(
    kube: KubeEmulator, api: KubeApi, tmp_path: Path
) -> None:
    kube.put_object(
        APP,
        application(
            "config",
            {
                "repoURL": REPO,
                "path": "apps/config",
                "targetRevision": "main",
                "kustomize": {"images": ["busybox:1.36", "registry.example.com/grafana:10.0.0"]},
            },
        ),
    )
    kube.put_object(
        APP,
        application(
            "grafana",
            {
                "repoURL": "https://charts.example.com",
                "chart": "grafana",
                "targetRevision": "7.0.0",
                "helm": {"parameters": [{"name": "replicas", "value": "2"}]},
            },
        ),
    )
    engine = engine_for(PIPELINE, tmp_path, kube_api=lambda: api)
    freight = the_freight()
    engine.add_freight(freight)
    record = engine.promote(freight.id, "prod", "t")
    assert record.phase == "Succeeded" and "argocd/config, argocd/grafana" in record.message
    config = kube.object(APP, "argocd", "config")
    assert config is not None
    assert config["spec"]["source"]["targetRevision"] == "c" * 40
    assert config["spec"]["source"]["kustomize"]["images"] == [
        "busybox:1.36",
        f"registry.example.com/grafana=registry.example.com/grafana@{DIGEST1}",
    ]
    assert config["metadata"]["annotations"]["freightyard.io/freight"] == freight.id
    assert config["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "normal"
    grafana = kube.object(APP, "argocd", "grafana")
    assert grafana is not None
    assert grafana["spec"]["source"]["targetRevision"] == "7.3.9"
    assert grafana["spec"]["source"]["helm"]["parameters"] == [
        {"name": "replicas", "value": "2"},
        {"name": "image.tag", "value": "10.4.1"},
    ]
    assert "kustomize" not in grafana["spec"]["source"]


def test_unauthorized_application_is_refused_and_nothing_is_patched(
    kube: KubeEmulator, api: KubeApi, tmp_path: Path
) -> None:
    kube.put_object(APP, application("config", {"repoURL": REPO, "targetRevision": "main"}))
    kube.put_object(
        APP,
        application(
            "grafana",
            {"repoURL": "https://charts.example.com", "chart": "grafana", "targetRevision": "7.0.0"},
            authorized="other:prod",
        ),
    )
    engine = engine_for(PIPELINE, tmp_path, kube_api=lambda: api)
    freight = the_freight()
    engine.add_freight(freight)
    with pytest.raises(
        MechanismError,
        match=r"argocd/grafana is not authorized for quick:prod: add the annotation "
        r"freightyard.io/authorized-stage",
    ):
        engine.promote(freight.id, "prod", "t")
    config = kube.object(APP, "argocd", "config")
    assert config is not None and config["spec"]["source"]["targetRevision"] == "main"
    assert not [r for r in kube.requests() if r[0] == "PATCH"]


def test_missing_application_names_it(kube: KubeEmulator, api: KubeApi, tmp_path: Path) -> None:
    engine = engine_for(PIPELINE, tmp_path, kube_api=lambda: api)
    freight = the_freight()
    engine.add_freight(freight)
    with pytest.raises(MechanismError, match=r"Application argocd/config: .*not found"):
        engine.promote(freight.id, "prod", "t")


def test_options_are_validated_when_the_pipeline_is_parsed() -> None:
    text = PIPELINE.replace("- {name: config}", "- {name: config, targetRevison: x}").replace(
        "applications:", "refresh: maybe\n          applications:"
    )
    import textwrap

    with pytest.raises(ConfigError) as caught:
        parse_pipelines(textwrap.dedent(text), "p.yaml")
    problems = "\n".join(caught.value.problems)
    assert 'spec.stages[0].promotion.applications[0].targetRevison: unknown option "targetRevison"' in problems
    assert "spec.stages[0].promotion.refresh: must be true or false" in problems
