"""Builders shared by the generator tests (a GitOps repo with pipelines, state files) and a tiny
ApplicationSet template renderer that substitutes parameters the way Argo CD does (tested in
tests/test_generator_helpers.py)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from freightyard.shared.core.freight import Commit, Freight, Image
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import StageState, State, state_to_document
from freightyard.shared.stores.file import FileStore

REPO_URL = "https://git.example.com/org/gitops.git"
IMAGE_REPO = "registry.example.com/org/guestbook"
SHA1 = "1" * 40
SHA2 = "2" * 40
DIGEST1 = "sha256:" + "a" * 64
DIGEST2 = "sha256:" + "b" * 64
TOKEN = "s3cret-token-for-tests-0123456789"
EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"

PIPELINE = f"""\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: guestbook}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - git: {{repoURL: {REPO_URL}, branch: main}}
    - image: {{repoURL: {IMAGE_REPO}, imageSelectionStrategy: SemVer}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    apps:
    - name: guestbook
      path: apps/guestbook/overlays/dev
      destination: {{namespace: guestbook-dev}}
  - name: hotfix
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
  - name: staging
    requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    apps:
    - name: guestbook
      path: apps/guestbook/overlays/staging
      destination: {{namespace: guestbook-staging}}
  - name: prod
    requestedFreight: [{{origin: main, sources: {{stages: [staging, hotfix]}}}}]
    apps:
    - name: guestbook
      path: apps/guestbook/overlays/prod
      project: production
      destination: {{server: https://prod.example.com:6443, namespace: guestbook}}
    - name: worker
      path: apps/worker/overlays/prod
      destination: {{namespace: worker}}
"""


def freight(sha: str = SHA1, digest: str = DIGEST1, tag: str = "1.4.0") -> Freight:
    return Freight(
        origin="main",
        commits=(Commit(repo_url=REPO_URL, id=sha, branch="main", message="change"),),
        images=(Image(repo_url=IMAGE_REPO, tag=tag, digest=digest),),
        created_at="2024-05-01T10:00:00Z",
    )


def pipeline() -> Pipeline:
    return parse_pipelines(PIPELINE, "pipelines/guestbook.yaml")[0]


def state_with(
    pins: dict[str, Freight],
    revision: dict[str, str] | None = None,
    apps: tuple[str, ...] = ("guestbook", "worker"),
) -> State:
    state = State()
    for item in pins.values():
        state.add_freight(item)
    for stage, item in pins.items():
        state.stages[stage] = StageState.holding(
            item, apps, revision=(revision or {}).get(stage, ""), by="tester", at="2024-05-01T10:05:00Z", stage=stage
        )
    return state


def make_repo(root: Path, text: str = PIPELINE, name: str = "guestbook.yaml") -> Path:
    """A GitOps checkout: ``.git``, ``pipelines/<name>``; returns the pipelines directory."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    pipelines = root / "pipelines"
    pipelines.mkdir(exist_ok=True)
    (pipelines / name).write_text(text, encoding="utf-8")
    return pipelines


def write_state(state_dir: Path, pipeline_name: str, state: State) -> None:
    """Write ``state`` through the real FileStore, as a promotion would."""
    store = FileStore(state_dir / f"freightyard-{pipeline_name}.yaml")
    snapshot = store.read()
    document = state_to_document(
        state,
        pipeline=pipeline_name,
        name=f"freightyard-{pipeline_name}",
        namespace="argocd",
        previous=snapshot.document,
    )
    store.write(document, snapshot.version)


# --- the ApplicationSet side: render a template with the generator's parameter sets --------------

GO_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
GO_FIELD = re.compile(r"^\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")
GO_INDEX = re.compile(r'^index\s+\.\s+"([^"]+)"$')


def go_render(text: str, params: dict[str, Any]) -> str:
    """``{{.a.b}}`` and ``{{index . "a.b"}}`` with ``missingkey=error`` (what our examples use)."""

    def action(match: re.Match[str]) -> str:
        expression = match.group(1)
        index = GO_INDEX.match(expression)
        if index:
            if index.group(1) not in params:
                raise KeyError(f"map has no entry for key {index.group(1)!r}")
            return str(params[index.group(1)])
        field = GO_FIELD.match(expression)
        if not field:
            raise ValueError(f"unsupported template action {{{{{expression}}}}}")
        value: Any = params
        for part in field.group(1).split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(f"map has no entry for key {part!r} in {{{{{expression}}}}}")
            value = value[part]
        if isinstance(value, dict | list):
            raise ValueError(f"{{{{{expression}}}}} is not a string")
        return str(value)

    return GO_ACTION.sub(action, text)


def argo_flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """What Argo CD's plugin generator does for fasttemplate (``flatten.Flatten`` with DotStyle)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(argo_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def fast_render(text: str, params: dict[str, Any]) -> str:
    """fasttemplate: ``{{key}}`` replaced by the flattened value; unknown keys stay as they are."""
    flat = argo_flatten(params)
    return re.sub(r"{{\s*([^{}\s]+)\s*}}", lambda m: flat.get(m.group(1), m.group(0)), text)


def render_application_set(app_set: dict[str, Any], parameter_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Applications an ApplicationSet with one plugin generator makes from ``parameter_sets``."""
    spec = app_set["spec"]
    go = bool(spec.get("goTemplate"))
    generator = spec["generators"][0]["plugin"]
    applications = []
    for answered in parameter_sets:
        params = copy.deepcopy(answered)
        params["generator"] = {"input": {"parameters": generator.get("input", {}).get("parameters", {})}}
        render = go_render if go else fast_render

        def walk(node: Any, render: Any = render, params: dict[str, Any] = params) -> Any:
            if isinstance(node, str):
                return render(node, params)
            if isinstance(node, list):
                return [walk(item) for item in node]
            if isinstance(node, dict):
                return {walk(k): walk(v) for k, v in node.items()}
            return node

        rendered = walk(spec["template"])
        applications.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **rendered})
    return applications


def load_example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def plugin_env(application: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in application["spec"]["source"]["plugin"]["env"]}
