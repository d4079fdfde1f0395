"""Turn (pipeline, state) into ApplicationSet parameter sets: one per stage × app with promoted freight.

Pure: no I/O. The generator serves these sets; the CLI and the controller may reuse them to show
what an ApplicationSet will produce. Every value is a string. Each set carries the same values
twice: nested maps for ``goTemplate: true`` (``{{.freight.id}}``) and flat dotted keys for the
default fasttemplate (``{{freight.id}}``); Argo CD flattens nested maps the same way for
fasttemplate, so both spellings always agree.

Parameter names (part of Freightyard's interface)::

    pipeline  stage  app  project  repoURL  path  targetRevision  pipelineFile  renderSpec  mechanism
    destination.server  destination.namespace  destination.name
    freight.id  freight.short  freight.alias  freight.origin  freight.json
    commit.id  commit.short  commit.repoURL  commit.branch  commit.tag      the commit of the app's repo,
                                                                           else the freight's only commit, else ""
    chart.repoURL  chart.name  chart.version                                the chart from the app's repo, else the
                                                                           freight's only chart, else ""
    images.<key>.repoURL  images.<key>.tag  images.<key>.digest  images.<key>.ref

Every image has two keys, fixed by the pipeline (never by which images one freight carries): the
repository path without the registry host, ``/`` replaced by ``-`` (``registry.example.com/org/guestbook``
→ ``org-guestbook``), which never changes; and the last path segment (``guestbook``), lower-cased,
as long as no other image repository of the stage's warehouses ends the same way (adding such a
subscription to the pipeline retires the short key; the path key stays). ``ref`` is the digest-true
reference ``repo:tag@sha256:…``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from freightyard.shared.core import envsubst
from freightyard.shared.core.errors import ConfigError, NotFoundError
from freightyard.shared.core.freight import Chart, Commit, Freight, Image, combine, normalize_repo
from freightyard.shared.core.model import App, Pipeline, Stage
from freightyard.shared.core.render_spec import render_spec
from freightyard.shared.core.state import AppPin, State, StateError

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
    """One parameter set per stage × app that has a pin, in pipeline order.

    ``stages`` / ``apps`` keep only those names (None: all); a stage name the pipeline does not
    know raises ``NotFoundError``. An app without a pin in a stage is left out (it appears when a
    promotion pins it: no version skew between the pipeline at HEAD and the stage's commit). A pin
    naming freight missing from the catalog raises ``StateError``: answering without it would prune
    its Application.
    """
    if stages is not None:
        for name in stages:
            pipeline.stage(name)  # raises NotFoundError listing the known stages
    out: list[Nested] = []
    for stage in pipeline.stages:
        if stages is not None and stage.name not in stages:
            continue
        stage_state = state.stages.get(stage.name)
        if stage_state is None or not stage_state.apps:
            continue
        for app in stage.apps:
            pin = stage_state.apps.get(app.name)
            if pin is None or (apps is not None and app.name not in apps):
                continue
            freight = pinned_freight(pipeline, state, stage.name, app.name, pin)
            nested = stage_app_parameters(pipeline, stage, app, pin.revision, freight, pipeline_file=pipeline_file)
            out.append({**nested, **flatten(nested)})
    return out


def pinned_freight(pipeline: Pipeline, state: State, stage: str, app: str, pin: AppPin) -> Freight:
    """The combined freight an app's pin names; ``StateError`` when a member is not in the catalog."""
    members = []
    for origin, freight_id in sorted(pin.freight.items()):
        freight = state.freight.get(freight_id)
        if freight is None:
            raise StateError(
                f"pipeline {pipeline.name!r}: app {app!r} of stage {stage!r} is pinned to freight "
                f"{freight_id[:12]} ({origin}) which is not in the freight catalog; re-promote the stage "
                "or restore the state"
            )
        members.append(freight)
    return combine(members)


def stage_app_parameters(
    pipeline: Pipeline, stage: Stage, app: App, revision: str, freight: Freight, *, pipeline_file: str = ""
) -> Nested:
    """The nested parameters of one app of one stage pinned to ``freight`` at ``revision`` (strings only)."""
    repo_url = app_repo_url(pipeline, app, freight)
    commit = freight.commit_from(repo_url) if repo_url else None
    if commit is None and len(freight.commits) == 1:
        commit = freight.commits[0]
    chart = _chart_for(freight, repo_url)
    if chart is None and len(freight.charts) == 1:
        chart = freight.charts[0]
    return {
        "pipeline": pipeline.name,
        "stage": stage.name,
        "app": app.name,
        "project": app.project or "default",
        "repoURL": repo_url,
        "path": app.path,
        "targetRevision": revision or target_revision(stage, app, "", freight, repo_url),
        "pipelineFile": pipeline_file,
        "renderSpec": render_spec(pipeline, stage, app),
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
            "json": envsubst.freight_env_json(freight.to_json()),  # survives Argo CD's Envsubst; bounded
        },
        "commit": _commit_params(commit),
        "chart": _chart_params(chart),
        "images": {
            key: _image_params(image)
            for key, image in image_keys(freight.images, stage_image_repos(pipeline, stage)).items()
        },
    }


def app_repo_url(pipeline: Pipeline, app: App, freight: Freight) -> str:
    """The app's repoURL: its own, else the single git subscription of the freight's warehouse(s)."""
    if app.repo_url:
        return app.repo_url
    warehouses = []
    for origin in freight.origins:
        try:
            warehouses.append(pipeline.warehouse(origin))
        except NotFoundError as e:
            raise ConfigError(
                [
                    f"{pipeline.source_file}: app {app.name!r}: the freight's warehouse {origin!r} "
                    "is no longer in the pipeline; set apps[].repoURL"
                ]
            ) from e
    git = [s for w in warehouses for s in w.git()]
    if len(git) == 1:
        return git[0].repo_url
    charts = [s for w in warehouses for s in w.charts()]
    if not git and len(charts) == 1:
        return charts[0].repo_url
    names = ", ".join(w.name for w in warehouses)
    raise ConfigError(
        [
            f"{pipeline.source_file}: app {app.name!r}: repoURL is not set and warehouse(s) "
            f"{names} have {len(git)} git subscriptions; set apps[].repoURL"
        ]
    )


def target_revision(stage: Stage, app: App, revision: str, freight: Freight, repo_url: str) -> str:
    """What the App points at: ``revision`` (a mechanism's), else the freight's commit or chart version."""
    if revision:
        return revision
    commit = freight.commit_from(repo_url) if repo_url else None
    if commit is not None:
        return commit.id
    if app.target_revision:  # explicit: never overridden by a chart version
        return app.target_revision
    chart = _chart_for(freight, repo_url)  # only when the source *is* the chart repository (not on pin)
    if chart is not None:
        return chart.version
    if stage.promotion.mechanism in BRANCH_MECHANISMS:
        branch = stage.promotion.options.get("branch")
        if isinstance(branch, str) and branch and "${{" not in branch:
            return branch
        return f"env/{stage.name}"
    return app.target_revision or DEFAULT_REVISION


def image_keys(images: tuple[Image, ...], subscribed: Collection[str] = ()) -> dict[str, Image]:
    """Images by key (see the module docstring): always the repository path without its host
    (``org-guestbook``), and also the last segment (``guestbook``) when no other repository in
    ``subscribed`` (the stage's image subscriptions) or in ``images`` ends the same way. Keys depend
    on the pipeline, never on which images a freight happens to carry."""
    repos = {normalize_repo(r) for r in subscribed} | {normalize_repo(i.repo_url) for i in images}
    lasts = [r.rsplit("/", 1)[-1] for r in repos]
    out: dict[str, Image] = {}
    for image in sorted(images, key=lambda i: normalize_repo(i.repo_url)):
        path = normalize_repo(image.repo_url)
        last = path.rsplit("/", 1)[-1]
        if lasts.count(last) == 1:
            out.setdefault(last, image)
        out.setdefault(_path_key(path), image)
    return out


def stage_image_repos(pipeline: Pipeline, stage: Stage) -> tuple[str, ...]:
    """Every image repository the stage's requested warehouses subscribe to."""
    repos = []
    for request in stage.requested_freight:
        try:
            repos += [s.repo_url for s in pipeline.warehouse(request.origin).images()]
        except NotFoundError:
            continue
    return tuple(repos)


def _path_key(path: str) -> str:
    host, _, rest = path.partition("/")
    is_host = "." in host or ":" in host or host == "localhost"
    return (rest if is_host and rest else path).replace("/", "-")


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
