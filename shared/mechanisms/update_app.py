"""``update-app``: merge-patch existing Argo CD Applications (ones our generator did not make) —
``targetRevision``, kustomize images, Helm parameters — for the quick-and-dirty, non-GitOps patterns.

Only Applications annotated ``freightyard.io/authorized-stage: <pipeline>:<stage>`` (a comma
separated list is fine) are touched, so a pipeline cannot take over someone else's App by naming it.

    applications:
    - name: grafana                 # namespace: default --argocd-namespace (argocd)
      targetRevision: auto          # default: the freight's commit or chart of the source repoURL
      kustomizeImages: true         # default: true when the freight has images and no helmParameters
      helmParameters:
      - {name: image.tag, value: "${{ imageFrom('registry.example.com/grafana').tag }}"}
"""

from __future__ import annotations

from typing import Any

from freightyard.shared.core.errors import FreightyardError, MechanismError
from freightyard.shared.core.freight import Freight, normalize_repo, same_repo
from freightyard.shared.core.mechanism_options import update_app_options as validate_options
from freightyard.shared.gitops.messages import evaluate
from freightyard.shared.kube.applications import get_application, patch_application, request_refresh
from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext

AUTHORIZED_ANNOTATION = "freightyard.io/authorized-stage"
FREIGHT_ANNOTATION = "freightyard.io/freight"
__all__ = ["AUTHORIZED_ANNOTATION", "UpdateApp", "validate_options"]


class UpdateApp:
    def promote(self, context: PromotionContext) -> MechanismResult:
        options = context.stage.promotion.options
        api = context.settings.kube()
        default_ns = context.settings.argocd_namespace
        planned: list[tuple[str, str, dict[str, Any], str]] = []
        for item in options.get("applications") or []:
            namespace, name = str(item.get("namespace") or default_ns), str(item["name"])
            try:
                app = get_application(api, namespace, name)
            except FreightyardError as error:
                raise MechanismError(
                    f"Application {namespace}/{name}: {error.message}", temporary=error.temporary
                ) from error
            authorize(app, context.pipeline.name, context.stage.name)
            patch, revision = plan_patch(app, item, context)
            planned.append((namespace, name, patch, revision))
        revisions = set()
        for namespace, name, patch, revision in planned:  # every App checked before any is patched
            try:
                patch_application(api, namespace, name, patch)
                if options.get("refresh", True):
                    request_refresh(api, namespace, name, "normal")
            except FreightyardError as error:
                raise MechanismError(
                    f"patching Application {namespace}/{name}: {error.message}", temporary=error.temporary
                ) from error
            if revision:
                revisions.add(revision)
        names = ", ".join(f"{ns}/{n}" for ns, n, _, _ in planned)
        return MechanismResult("Succeeded", f"patched {names}", revision=revisions.pop() if len(revisions) == 1 else "")


def authorize(app: dict[str, Any], pipeline: str, stage: str) -> None:
    """Refuse an Application that does not name ``pipeline:stage`` in its authorization annotation."""
    meta = app.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    allowed = [v.strip() for v in str(annotations.get(AUTHORIZED_ANNOTATION, "")).split(",") if v.strip()]
    if f"{pipeline}:{stage}" not in allowed and f"{pipeline}:*" not in allowed:
        raise MechanismError(
            f"Application {meta.get('namespace')}/{meta.get('name')} is not authorized for "
            f'{pipeline}:{stage}: add the annotation {AUTHORIZED_ANNOTATION}: "{pipeline}:{stage}"'
        )


def plan_patch(app: dict[str, Any], item: dict[str, Any], context: PromotionContext) -> tuple[dict[str, Any], str]:
    """The merge patch for one Application and the revision it will point at ("" when unchanged)."""
    spec = app.get("spec") or {}
    name = (app.get("metadata") or {}).get("name", "?")
    if "source" not in spec and spec.get("sources"):
        raise MechanismError(f"Application {name} has several sources; update-app patches single-source Apps only")
    source = dict(spec.get("source") or {})
    freight = context.freight
    new_source: dict[str, Any] = {}
    revision = _revision(source, item, context)
    if revision:
        new_source["targetRevision"] = revision
    params = item.get("helmParameters")
    if item.get("kustomizeImages", bool(freight.images) and not params):
        images = kustomize_images((source.get("kustomize") or {}).get("images") or [], freight)
        if images:
            new_source["kustomize"] = {"images": images}
    if params:
        new_source["helm"] = {
            "parameters": helm_parameters((source.get("helm") or {}).get("parameters") or [], params, context)
        }
    if not new_source:
        raise MechanismError(
            f"Application {name}: freight {freight.short_id} carries no matching commit, "
            "chart or image for it; configure targetRevision or helmParameters"
        )
    patch = {"metadata": {"annotations": {FREIGHT_ANNOTATION: freight.id}}, "spec": {"source": new_source}}
    return patch, revision


def _revision(source: dict[str, Any], item: dict[str, Any], context: PromotionContext) -> str:
    configured = str(item.get("targetRevision") or "auto")
    if configured != "auto":
        return evaluate(
            configured,
            context.freight,
            context.stage.name,
            context.pipeline.name,
            f"update-app {item['name']} targetRevision",
        )
    repo = str(source.get("repoURL") or "")
    commit = context.freight.commit_from(repo) if repo else None
    if commit is not None:
        return commit.id
    chart = next((c for c in context.freight.charts if _chart_matches(source, c.repo_url, c.name)), None)
    return chart.version if chart else ""


def _chart_matches(source: dict[str, Any], repo_url: str, name: str) -> bool:
    repo = str(source.get("repoURL") or "")
    if source.get("chart"):  # HTTP repo (repoURL + chart) or OCI (repoURL without oci://, chart = name)
        return source["chart"] == name and (same_repo(repo, repo_url) or same_repo(f"{repo}/{name}", repo_url))
    return same_repo(repo, f"{repo_url.rstrip('/')}/{name}") or same_repo(repo, repo_url)


def kustomize_images(existing: list[Any], freight: Freight) -> list[str]:
    """Argo CD's ``kustomize.images`` with each freight image set to ``name=repo@digest`` (others kept).

    The digest-only form parses the same in every kustomize version (``tag@digest`` needs 5.2+)."""
    out: list[str] = []
    done: set[str] = set()
    for entry in existing:
        text = str(entry)
        name = text.split("=", 1)[0] if "=" in text else _image_name(text)
        image = freight.image_from(name)
        if image is None and "=" in text:
            image = freight.image_from(_image_name(text.split("=", 1)[1]))
        if image is None:
            out.append(text)
            continue
        out.append(f"{name}={image.repo_url}@{image.digest}")
        done.add(normalize_repo(image.repo_url))
    out += [f"{i.repo_url}={i.repo_url}@{i.digest}" for i in freight.images if normalize_repo(i.repo_url) not in done]
    return out


def _image_name(ref: str) -> str:
    name = ref.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def helm_parameters(existing: list[Any], wanted: list[dict[str, Any]], context: PromotionContext) -> list[Any]:
    """Existing Helm parameters with ``wanted`` names set (merge patches replace lists: send them all)."""
    values = {
        str(p["name"]): evaluate(
            str(p["value"]), context.freight, context.stage.name, context.pipeline.name, f"helmParameters {p['name']}"
        )
        for p in wanted
    }
    out: list[Any] = []
    for param in existing:
        if isinstance(param, dict) and param.get("name") in values:
            out.append({**param, "value": values.pop(str(param["name"]))})
        else:
            out.append(param)
    out += [{"name": name, "value": value} for name, value in values.items()]
    return out
