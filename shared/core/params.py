"""Turn (pipeline, state) into ApplicationSet parameter sets: one per stage × app with promoted freight.

Pure: no I/O. The generator serves these sets; the CLI and the controller may reuse them to show
what an ApplicationSet will produce. Every value is a string. Each set carries the same values
twice: nested maps for ``goTemplate: true`` (``{{.freight.id}}``) and flat dotted keys for the
default fasttemplate (``{{freight.id}}``); Argo CD flattens nested maps the same way for
fasttemplate, so both spellings always agree.

Parameter names (part of Freightyard's interface)::

    pipeline  stage  app  project  repoURL  path  targetRevision  pipelineFile  mechanism
    destination.server  destination.namespace  destination.name
    freight.id  freight.short  freight.alias  freight.origin  freight.json
    commit.id  commit.short  commit.repoURL  commit.branch  commit.tag      the commit of the app's repo,
                                                                           else the freight's only commit, else ""
    chart.repoURL  chart.name  chart.version                                the chart from the app's repo, else ""
    images.<key>.repoURL  images.<key>.tag  images.<key>.digest  images.<key>.ref

``<key>`` is the last path segment of the image repository (``registry.example.com/org/guestbook``
→ ``guestbook``), lower-cased. When two images of one freight share that segment, both use their
whole path without the registry host, ``/`` replaced by ``-`` (``org-guestbook``). ``ref`` is the
digest-true reference ``repo:tag@sha256:…``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from freightyard.shared.core.errors import ConfigError, NotFoundError, StoreError
from freightyard.shared.core.freight import Chart, Commit, Freight, Image, normalize_repo
from freightyard.shared.core.model import App, Pipeline, Stage
from freightyard.shared.core.state import PromotionRecord, State

BRANCH_MECHANISMS = ("render-branch", "copy-branch")
DEFAULT_REVISION = "HEAD"

Nested = dict[str, Any]


def parameter_sets(
    pipeline: Pipeline,
    state: State,
    *,
    stages: Collection[str] | None = None,
    apps: Collection[str] | None = None,
    pipeline_file: str = "",
) -> list[Nested]:
    """One parameter set per stage × app that has promoted freight, in pipeline order.

    ``stages`` / ``apps`` keep only those names (None: all); a stage name the pipeline does not
    know raises ``NotFoundError``. A stage without freight is left out. A stage whose pinned
    freight is missing from the catalog raises ``StoreError``: answering without it would prune
    its Applications.
    """
    if stages is not None:
        for name in stages:
            pipeline.stage(name)  # raises NotFoundError listing the known stages
    out: list[Nested] = []
    for stage in pipeline.stages:
        if stages is not None and stage.name not in stages:
            continue
        stage_state = state.stages.get(stage.name)
        record = stage_state.current if stage_state else None
        if record is None or not stage.apps:
            continue
        freight = state.freight.get(record.freight)
        if freight is None:
            raise StoreError(
                f"pipeline {pipeline.name!r}: stage {stage.name!r} is pinned to freight "
                f"{record.freight} which is not in the freight catalog; re-promote the stage "
                "or restore the state",
                temporary=False,
            )
        for app in stage.apps:
            if apps is not None and app.name not in apps:
                continue
            nested = stage_app_parameters(pipeline, stage, app, record, freight, pipeline_file=pipeline_file)
            out.append({**nested, **flatten(nested)})
    return out


def stage_app_parameters(
    pipeline: Pipeline, stage: Stage, app: App, record: PromotionRecord, freight: Freight, *, pipeline_file: str = ""
) -> Nested:
    """The nested parameters of one app of one stage holding ``freight`` (strings only)."""
    repo_url = app_repo_url(pipeline, app, freight)
    commit = freight.commit_from(repo_url) if repo_url else None
    if commit is None and len(freight.commits) == 1:
        commit = freight.commits[0]
    chart = _chart_for(freight, repo_url)
    return {
        "pipeline": pipeline.name,
        "stage": stage.name,
        "app": app.name,
        "project": app.project or "default",
        "repoURL": repo_url,
        "path": app.path,
        "targetRevision": target_revision(stage, app, record, freight, repo_url),
        "pipelineFile": pipeline_file,
        "mechanism": stage.promotion.mechanism,
        "destination": {
            "server": app.destination.server,
            "namespace": app.destination.namespace,
            "name": app.destination.name,
        },
        "freight": {
            "id": freight.id,
            "short": freight.short_id,
            "alias": freight.alias,
            "origin": freight.origin,
            "json": freight.to_json(),
        },
        "commit": _commit_params(commit),
        "chart": _chart_params(chart),
        "images": {key: _image_params(image) for key, image in image_keys(freight.images).items()},
    }


def app_repo_url(pipeline: Pipeline, app: App, freight: Freight) -> str:
    """The app's repoURL: its own, else the single git subscription of the freight's warehouse."""
    if app.repo_url:
        return app.repo_url
    try:
        warehouse = pipeline.warehouse(freight.origin)
    except NotFoundError as e:
        raise ConfigError(
            [
                f"{pipeline.source_file}: app {app.name!r}: the freight's warehouse {freight.origin!r} "
                "is no longer in the pipeline; set apps[].repoURL"
            ]
        ) from e
    git = warehouse.git()
    if len(git) == 1:
        return git[0].repo_url
    charts = warehouse.charts()
    if not git and len(charts) == 1:
        return charts[0].repo_url
    raise ConfigError(
        [
            f"{pipeline.source_file}: app {app.name!r}: repoURL is not set and warehouse "
            f"{warehouse.name!r} has {len(git)} git subscriptions; set apps[].repoURL"
        ]
    )


def target_revision(stage: Stage, app: App, record: PromotionRecord, freight: Freight, repo_url: str) -> str:
    """What the App points at: the recorded revision, else the freight's commit or chart version."""
    if record.revision:
        return record.revision
    commit = freight.commit_from(repo_url) if repo_url else None
    if commit is not None:
        return commit.id
    chart = _chart_for(freight, repo_url)
    if chart is not None:
        return chart.version
    if stage.promotion.mechanism in BRANCH_MECHANISMS:
        branch = stage.promotion.options.get("branch")
        if isinstance(branch, str) and branch and "${{" not in branch:
            return branch
        return f"env/{stage.name}"
    return app.target_revision or DEFAULT_REVISION


def image_keys(images: tuple[Image, ...]) -> dict[str, Image]:
    """Images keyed by the last path segment of their repository (see the module docstring)."""

    def last(image: Image) -> str:
        return normalize_repo(image.repo_url).rsplit("/", 1)[-1]

    def full(image: Image) -> str:
        path = normalize_repo(image.repo_url)
        host, _, rest = path.partition("/")
        is_host = "." in host or ":" in host or host == "localhost"
        return (rest if is_host and rest else path).replace("/", "-")

    names = [last(i) for i in images]
    return {(full(i) if names.count(last(i)) > 1 else last(i)): i for i in images}


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flat dotted keys for fasttemplate: ``{"a": {"b": "c"}}`` → ``{"a.b": "c"}`` (nested maps only)."""
    flat: dict[str, str] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif prefix:
            flat[name] = str(value)
    return flat


def _chart_for(freight: Freight, repo_url: str) -> Chart | None:
    return freight.chart_from(repo_url) if repo_url else None


def _commit_params(commit: Commit | None) -> dict[str, str]:
    if commit is None:
        return {"id": "", "short": "", "repoURL": "", "branch": "", "tag": ""}
    return {
        "id": commit.id,
        "short": commit.id[:7],
        "repoURL": commit.repo_url,
        "branch": commit.branch,
        "tag": commit.tag,
    }


def _chart_params(chart: Chart | None) -> dict[str, str]:
    if chart is None:
        return {"repoURL": "", "name": "", "version": ""}
    return {"repoURL": chart.repo_url, "name": chart.name, "version": chart.version}


def _image_params(image: Image) -> dict[str, str]:
    return {"repoURL": image.repo_url, "tag": image.tag, "digest": image.digest, "ref": image.reference}
