"""The CMP as argocd-cmp-server runs it: a fresh copy of a real git repo, ``generate.command`` from
plugin.yaml exec'd without a shell in the app path, with the Argo CD environment of docs/architecture.md §3.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from freightyard.shared.core.state import StageState, State, state_to_document
from tests.helpers.cmp_repo import DIGEST_A, DIGEST_B, IMAGE, OVERLAY, PIPELINE, PLUGIN, freight, pinned_env, write
from tests.helpers.tools import missing_tool

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shim_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``freightyard-cmp`` on PATH, the way the console-script entry point runs."""
    bin_dir = tmp_path_factory.mktemp("bin")
    shim = bin_dir / "freightyard-cmp"
    shim.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from freightyard.cmp.entry import main\nsys.exit(main())\n"
    )
    shim.chmod(0o755)
    return str(bin_dir)


Run = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def run_plugin(git_repo: Path, shim_path: str, tmp_path: Path) -> Run:
    counter = iter(range(1000))

    def run(
        path: str = OVERLAY,
        *,
        env: dict[str, str] | None = None,
        v2: bool = True,
        command: str = "generate",
        sidecar: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[bytes]:
        copy = tmp_path / f"copy{next(counter)}"
        shutil.copytree(git_repo, copy, symlinks=True)  # argocd-cmp-server gets a fresh copy each time
        for name in drop:
            (copy / name).unlink()
        argocd = {
            "ARGOCD_APP_NAME": "guestbook-dev",
            "ARGOCD_APP_NAMESPACE": "guestbook-dev",
            "ARGOCD_APP_REVISION": "0" * 40,
            "ARGOCD_APP_REVISION_SHORT": "0000000",
            "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/gitops.git",
            "ARGOCD_APP_SOURCE_PATH": path,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
            "KUBE_VERSION": "1.29+",
            "KUBE_API_VERSIONS": "v1,apps/v1",
            "ARGOCD_APP_PARAMETERS": "null",
        }
        if not v2:
            argocd["ARGOCD_APP_PROJECT_NAME"] = "default"
        for name, value in (env or {}).items():
            if value or not v2:  # v2 drops empty plugin env values, v3 passes them
                argocd[f"ARGOCD_ENV_{name}"] = value
        base = {
            "PATH": f"{shim_path}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "FREIGHTYARD_TOOLS_DIR": str(REPO / ".tools"),
            "FREIGHTYARD_CMP_SERVER": "off",
        }  # in-process here; tests/test_cmp_server.py covers the server
        argv = (
            PLUGIN["spec"]["generate"]["command"]
            if command == "generate"
            else PLUGIN["spec"]["parameters"]["dynamic"]["command"]
        )
        return subprocess.run(
            argv,
            cwd=copy / path,
            env={**base, **argocd, **(sidecar or {})},
            capture_output=True,
            timeout=60,
            check=False,
        )

    return run


def assert_failed(result: subprocess.CompletedProcess[bytes], *needles: str) -> str:
    assert result.returncode != 0
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_plugin_yaml_names_freightyard_v1_without_discovery() -> None:
    assert PLUGIN["kind"] == "ConfigManagementPlugin"
    assert f"{PLUGIN['metadata']['name']}-{PLUGIN['spec']['version']}" == "freightyard-v1"
    assert "discover" not in PLUGIN["spec"]
    assert PLUGIN["spec"]["generate"]["command"] == ["freightyard-cmp", "generate"]
    assert (REPO / "manifests/cmp/plugin.yaml").read_text() == (REPO / "cmp/plugin.yaml").read_text()


@pytest.mark.parametrize("v2", [True, False])
def test_generate_pins_images_by_digest(run_plugin: Run, v2: bool) -> None:
    f = freight()
    result = run_plugin(env=pinned_env(f, APP="", ANNOTATE=""), v2=v2)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    objects = list(yaml.safe_load_all(result.stdout))
    assert [o["metadata"]["name"] for o in objects] == ["dev-web"]
    containers = objects[0]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == f"{IMAGE}:1.4.0@{DIGEST_A}"
    assert containers[1]["image"] == "registry.example.com/org/sidecar:2"
    assert objects[0]["metadata"]["annotations"] == {
        "freightyard.io/freight": f.id,
        "freightyard.io/pipeline": "guestbook",
        "freightyard.io/stage": "dev",
    }
    assert "annotations" not in objects[0]["spec"]["template"]["metadata"]  # no pod restarts per freight


def test_output_is_deterministic_and_tracked_files_untouched(run_plugin: Run, git_repo: Path) -> None:
    f = freight()
    first, second = run_plugin(env=pinned_env(f)), run_plugin(env=pinned_env(f))
    assert first.returncode == 0 and first.stdout == second.stdout
    status = subprocess.run(["git", "-C", str(git_repo), "status", "--porcelain"], capture_output=True, check=True)
    assert status.stdout == b""


def test_annotations_can_be_turned_off(run_plugin: Run) -> None:
    result = run_plugin(env=pinned_env(freight(), ANNOTATE="false"))
    assert result.returncode == 0, result.stderr
    assert b"freightyard.io/" not in result.stdout


def test_settings_from_plugin_parameters(run_plugin: Run) -> None:
    f = freight()
    params = [{"name": "pipeline", "string": "guestbook"}, {"name": "stage", "string": "dev"}]
    result = run_plugin(
        env={"FREIGHT": f.to_json(), "FREIGHT_ID": f.id}, sidecar={"ARGOCD_APP_PARAMETERS": json.dumps(params)}
    )
    assert result.returncode == 0, result.stderr


def test_plain_directory(run_plugin: Run) -> None:
    result = run_plugin("apps/plain", env=pinned_env(freight(), APP="plain"))
    assert result.returncode == 0, result.stderr
    objects = list(yaml.safe_load_all(result.stdout))
    assert [o["kind"] for o in objects] == ["Deployment", "Service"]
    assert objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:1.4.0@{DIGEST_A}"


def test_helm_chart_with_image_values(run_plugin: Run) -> None:
    if not shutil.which("helm", path=f"{REPO / '.tools/bin'}{os.pathsep}{os.environ['PATH']}"):
        missing_tool("helm not installed (bash scripts/install-tools.sh)")
    result = run_plugin("apps/chart", env=pinned_env(freight(), APP="chart"))
    assert result.returncode == 0, result.stderr
    (cm,) = yaml.safe_load_all(result.stdout)
    assert cm["metadata"]["name"] == "chart-cfg"  # release name: the app's name
    assert cm["metadata"]["namespace"] == "guestbook-dev"  # ARGOCD_APP_NAMESPACE
    assert cm["data"]["image"] == f"{IMAGE}@{DIGEST_A}"
    assert cm["data"]["kube"].startswith("v1.29")  # "1.29+" parsed leniently
    assert cm["metadata"]["annotations"]["freightyard.io/stage"] == "dev"


def test_freight_from_mounted_configmap_directory(run_plugin: Run, tmp_path: Path) -> None:
    f = freight(tag="1.5.0", digest=DIGEST_B)
    state = State(
        freight={f.id: f},
        stages={"dev": StageState.holding(f, ["guestbook", "api", "worker"], by="t")},
    )
    document = state_to_document(state, pipeline="guestbook", name="freightyard-guestbook", namespace="argocd")
    mounted = tmp_path / "state" / "guestbook"
    mounted.mkdir(parents=True)
    for key, text in document["data"].items():
        (mounted / key).write_text(text)
    spec = f"file:{tmp_path / 'state'}/{{pipeline}}"
    result = run_plugin(env={"PIPELINE": "guestbook", "STAGE": "dev"}, sidecar={"FREIGHTYARD_STATE": spec})
    assert result.returncode == 0, result.stderr
    assert f"{IMAGE}:1.5.0@{DIGEST_B}".encode() in result.stdout
    # the same document as a single state file
    state_file = tmp_path / "state.yaml"
    state_file.write_text(yaml.safe_dump(document))
    result = run_plugin(
        env={"PIPELINE": "guestbook", "STAGE": "dev"}, sidecar={"FREIGHTYARD_STATE": f"file:{state_file}"}
    )
    assert result.returncode == 0, result.stderr
    assert f"@{DIGEST_B}".encode() in result.stdout
    # a stage with nothing pinned
    result = run_plugin(
        "apps/guestbook/overlays/prod",
        env={"PIPELINE": "guestbook", "STAGE": "prod"},
        sidecar={"FREIGHTYARD_STATE": f"file:{state_file}"},
    )
    assert_failed(result, "no freight yet")


def test_parameters_announcement(run_plugin: Run) -> None:
    result = run_plugin(env=pinned_env(freight()), command="parameters")
    assert result.returncode == 0, result.stderr
    announced = {p["name"]: p for p in json.loads(result.stdout)}
    assert announced["pipeline"]["string"] == "guestbook"
    assert announced["images"]["map"] == {IMAGE: f"{IMAGE}:1.4.0@{DIGEST_A}"}


@pytest.mark.parametrize(
    ("path", "env", "needles"),
    [
        (OVERLAY, {"STAGE": "qa"}, ("no stage 'qa'",)),
        (OVERLAY, {"FREIGHT_ID": "f" * 40}, ("does not match",)),
        (OVERLAY, {"FREIGHT_ID": ""}, ("FREIGHT_ID",)),
        (OVERLAY, {"FREIGHT": "", "FREIGHT_ID": ""}, ("no freight",)),
        (OVERLAY, {"FREIGHT": "{not json", "FREIGHT_ID": "x"}, ("not valid freight JSON",)),
        (OVERLAY, {"PIPELINE": "nope"}, ("no pipeline 'nope'",)),
        (OVERLAY, {"APP": "chart"}, ("is not the path of app",)),
        ("apps/broken", {"APP": "broken"}, ("kustomize build apps/broken failed",)),
        ("apps/escape", {"APP": "escape"}, ("outside the repository",)),
        ("apps/linked", {"APP": "linked"}, ("outside the repository",)),
        ("apps/absolute", {"APP": "absolute"}, ("absolute path",)),
        ("apps/remote", {"APP": "remote"}, ("remote base",)),
    ],
)
def test_failures_leave_stdout_empty(run_plugin: Run, path: str, env: dict[str, str], needles: tuple[str, ...]) -> None:
    assert_failed(run_plugin(path, env={**pinned_env(freight()), **env}), *needles)


def test_freight_from_an_unrequested_warehouse_is_refused(run_plugin: Run) -> None:
    assert_failed(run_plugin(env=pinned_env(freight(origin="other"))), "does not request")


def test_no_secret_reaches_stderr(run_plugin: Run) -> None:
    secret = "https://user:hunter2secret@git.example.com/x.git//base"
    f = freight()
    result = run_plugin(env=pinned_env(f, PIPELINE=f"{secret}"))
    line = assert_failed(result)
    assert "hunter2secret" not in line


def test_generate_imports_nothing_heavy(run_plugin: Run) -> None:
    result = run_plugin(env=pinned_env(freight()), sidecar={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines() if "|" in line}
    assert "freightyard.cmp.main" in imported
    for heavy in ("flask", "kubernetes", "requests", "prompt_toolkit", "controller", "generator"):
        assert heavy not in imported


def test_sidecar_component_patches_the_repo_server(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl", path=f"{REPO / '.tools/bin'}{os.pathsep}{os.environ['PATH']}")
    if not kubectl:
        missing_tool("kubectl not installed (bash scripts/install-tools.sh)")
    shutil.copytree(REPO / "manifests/cmp", tmp_path / "cmp")
    write(
        tmp_path,
        {
            "kustomization.yaml": "resources: [deploy.yaml]\ncomponents: [cmp, cmp/components/state-mount]\n",
            "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: argocd-repo-server}\nspec:\n"
            "  template:\n    spec:\n      containers: [{name: argocd-repo-server, image: argocd}]\n",
        },
    )
    built = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, check=True)
    objects = {o["kind"]: o for o in yaml.safe_load_all(built.stdout)}
    assert yaml.safe_load(objects["ConfigMap"]["data"]["plugin.yaml"]) == PLUGIN
    containers = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    (sidecar,) = [c for c in containers if c["name"] == "freightyard-cmp"]
    assert sidecar["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"] for m in sidecar["volumeMounts"]}
    assert {
        "/var/run/argocd",
        "/home/argocd/cmp-server/plugins",
        "/tmp",
        "/home/argocd/cmp-server/config/plugin.yaml",
    } <= mounts


def test_render_spec_from_the_generator_needs_no_pipeline_file_in_the_copy(run_plugin: Run) -> None:
    from freightyard.shared.core.pipeline import parse_pipelines
    from freightyard.shared.core.render_spec import render_spec

    (pipeline,) = parse_pipelines(PIPELINE)
    stage = pipeline.stage("dev")
    spec = render_spec(pipeline, stage, next(a for a in stage.apps if a.name == "guestbook"))
    env = pinned_env(freight(), RENDER_SPEC=spec, APP="guestbook")
    with_spec = run_plugin(env=env, drop=("pipelines/guestbook.yaml",))
    assert with_spec.returncode == 0, with_spec.stderr
    from_file = run_plugin(env={k: v for k, v in env.items() if k != "RENDER_SPEC"})
    assert with_spec.stdout == from_file.stdout  # the same bytes as reading the pipeline file
    garbled = run_plugin(env={**env, "RENDER_SPEC": "not base64!"}, drop=("pipelines/guestbook.yaml",))
    assert_failed(garbled, "RENDER_SPEC")
