"""``render_app``: pick the tool for an app directory, run it safely, return manifests and hash.

Detection, in Argo CD's order: a kustomization file ⇒ kustomize; ``Chart.yaml`` ⇒ ``helm template``
of that chart; otherwise, when the freight carries a chart ⇒ ``helm template`` of that chart with
the directory's ``values.yaml`` (if any) and ``helm.valuesFiles``; otherwise a plain YAML directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from freightyard.shared.core.errors import NotFoundError, RenderError
from freightyard.shared.core.freight import Chart, Freight, Image, same_repo
from freightyard.shared.core.model import App, Pipeline, Warehouse

if TYPE_CHECKING:
    from freightyard.shared.render.helm import ChartAccess
from freightyard.shared.render import kustomize
from freightyard.shared.render.env import ANNOTATION_FREIGHT, ANNOTATION_PIPELINE, ANNOTATION_STAGE, Rendered, RenderEnv
from freightyard.shared.render.objects import annotate, dump_objects, load_objects, pin_images
from freightyard.shared.render.paths import KUSTOMIZATION_NAMES, app_dir, check_kustomization, check_tree, safe_join


def detect_tool(directory: Path, freight: Freight) -> str:
    """``kustomize``, ``helm`` (chart in the directory), ``helm-chart`` (the freight's chart) or ``plain``."""
    if any((directory / name).is_file() for name in KUSTOMIZATION_NAMES):
        return "kustomize"
    if (directory / "Chart.yaml").is_file():
        return "helm"
    if freight.charts:
        return "helm-chart"
    return "plain"


def render_app(  # noqa: PLR0917
    pipeline: Pipeline,
    stage_name: str,
    app: App,
    freight: Freight,
    repo_root: Path,
    env: RenderEnv,
) -> Rendered:
    """Render ``app`` of ``stage_name`` with ``freight``, reading only inside ``repo_root``.

    Raises ``RenderError`` (one line, safe to show) for anything wrong with the app, the freight or
    the tools; ``NotFoundError`` for an unknown stage.
    """
    stage = pipeline.stage(stage_name)
    unrequested = [o for o in freight.origins if stage.request_for(o) is None]
    if unrequested:
        raise RenderError(
            f"freight {freight.short_id} comes from warehouse {unrequested[0]!r}, "
            f"which stage {stage_name!r} does not request"
        )
    root = repo_root.resolve()
    directory = app_dir(root, app.path)
    deadline = env.deadline()
    annotations = (
        {ANNOTATION_PIPELINE: pipeline.name, ANNOTATION_STAGE: stage_name, ANNOTATION_FREIGHT: freight.id}
        if env.annotate
        else {}
    )
    tool = detect_tool(directory, freight)
    images = rendered_images(pipeline, freight)
    shown = app.path
    if tool == "kustomize":
        check_kustomization(root, directory, allow_remote=env.allow_remote_bases)
        manifests = kustomize.build(directory, env=env, deadline=deadline, shown_path=shown)
        manifests = _post_process_kustomized(manifests, images, annotations, shown)
        empty = not manifests.strip() or manifests.strip() == b"{}"
    else:
        if tool == "plain":
            from freightyard.shared.render.plain import read_directory

            check_tree(root, directory)
            objects = read_directory(root, directory, shown)
        else:
            objects = load_objects(
                _helm(
                    root,
                    directory,
                    tool,
                    stage_name=stage_name,
                    pipeline=pipeline,
                    app=app,
                    freight=freight,
                    env=env,
                    deadline=deadline,
                ),
                f"helm template {shown}",
            )
        annotate(objects, annotations)
        pin_images(objects, images)
        manifests = dump_objects(objects)
        empty = not objects
    if empty and not env.allow_empty:
        raise RenderError(f"{shown} rendered no objects; refusing (empty output makes Argo CD prune everything)")
    return Rendered(manifests=manifests, tool=tool.split("-")[0])


def rendered_images(pipeline: Pipeline, freight: Freight) -> tuple[Image, ...]:
    """The image references workloads get: ``repo:tag@digest``, except for images matched to a commit
    (``tagFrom``), which render as ``repo@digest``. Their tag is only the commit that built them, so
    keeping it would restart pods on every commit even when the build produced the same image —
    the monorepo pattern's "no pod churn" promise; the digest alone says what runs."""
    commit_matched = [s.repo_url for w in _warehouses(pipeline, freight) for s in w.images() if s.tag_from]
    if not commit_matched:
        return freight.images
    return tuple(
        Image(i.repo_url, "", i.digest, i.created_at) if any(same_repo(i.repo_url, u) for u in commit_matched) else i
        for i in freight.images
    )


def _post_process_kustomized(
    manifests: bytes, images: tuple[Image, ...], annotations: dict[str, str], shown: str
) -> bytes:
    from freightyard.shared.render.textual import annotate_stream, pin_images_stream

    pinned = pin_images_stream(manifests, images)
    annotated = annotate_stream(pinned, annotations) if pinned is not None else None
    if annotated is not None:
        return annotated
    objects = load_objects(manifests, f"kustomize build {shown}")
    annotate(objects, annotations)
    pin_images(objects, images)
    return dump_objects(objects)


def _helm(
    root: Path,
    directory: Path,
    tool: str,
    *,
    stage_name: str,
    pipeline: Pipeline,
    app: App,
    freight: Freight,
    env: RenderEnv,
    deadline: float,
) -> bytes:
    from freightyard.shared.render import helm

    check_tree(root, directory)
    values_files = [
        safe_join(root, directory, name, f"app {app.name!r} helm.valuesFiles") for name in app.helm_values_files
    ]
    chart: Chart | None = None
    if tool == "helm-chart":
        chart = _pick_chart(freight, app)
        default_values = directory / "values.yaml"
        if default_values.is_file() and default_values not in values_files:
            values_files.insert(0, safe_join(root, directory, "values.yaml", f"app {app.name!r}"))
    for path in values_files:
        if not path.is_file():
            raise RenderError(f"app {app.name!r}: values file {path.relative_to(root)} does not exist")
    return helm.template(
        chart_dir=directory if chart is None else None,
        chart=chart,
        app=app,
        values_files=values_files,
        values=helm.image_values(app, freight, stage_name, pipeline.name),
        namespace=env.namespace or app.destination.namespace,
        env=env,
        deadline=deadline,
        shown_path=app.path,
        access=_chart_access(pipeline, freight, chart),
    )


def _chart_access(pipeline: Pipeline, freight: Freight, chart: Chart | None) -> ChartAccess:
    """How to reach the freight's chart: its subscription's ``insecure`` flag and ``credentials``
    (env vars or a Secret mounted in the sidecar, as for discovery)."""
    from freightyard.shared.render.helm import ChartAccess

    if chart is None:
        return ChartAccess()
    subscriptions = [s for w in _warehouses(pipeline, freight) for s in w.charts()]
    sub = next((s for s in subscriptions if same_repo(s.repo_url, chart.repo_url) and s.name == chart.name), None)
    if sub is None:
        return ChartAccess()
    from urllib.parse import urlsplit

    from freightyard.shared.core.errors import SourceError
    from freightyard.shared.credentials import EnvFileCredentials

    host = urlsplit(sub.repo_url if "://" in sub.repo_url else f"//{sub.repo_url}").netloc
    try:
        credentials = EnvFileCredentials.from_env()(sub.credentials_secret, host)
    except SourceError as error:
        raise RenderError(f"chart {chart.name} from {chart.repo_url}: {error.message}") from error
    return ChartAccess(insecure=sub.insecure, credentials=credentials)


def _pick_chart(freight: Freight, app: App) -> Chart:
    if len(freight.charts) == 1:
        return freight.charts[0]
    named = [c for c in freight.charts if c.name == app.name]
    if len(named) == 1:
        return named[0]
    raise RenderError(
        f"freight {freight.short_id} carries several charts "
        f"({', '.join(c.name for c in freight.charts)}); name the app after one of them"
    )


def _warehouses(pipeline: Pipeline, freight: Freight) -> list[Warehouse]:
    """The warehouses of the freight's origin(s) that the pipeline still has."""
    found = []
    for origin in freight.origins:
        try:
            found.append(pipeline.warehouse(origin))
        except NotFoundError:
            continue
    return found
