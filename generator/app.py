"""The app factory: ``create_app()`` for gunicorn (``freightyard.generator.app:create_app()``), nothing at import time.

Settings come from ``FREIGHTYARD_*`` environment variables, or from a mapping in tests. The
Kubernetes client (for ConfigMap pipelines and state) is built on first use, once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

from freightyard.generator import errors
from freightyard.generator.auth import TokenSource
from freightyard.generator.config import Settings
from freightyard.generator.context import Context
from freightyard.generator.errors import ApiError
from freightyard.generator.metrics import Metrics
from freightyard.generator.pipelines import ConfigMapSource, DirectorySource, Lister, PipelineCatalog, PipelineSource
from freightyard.generator.routes import bp, install_metrics_hooks
from freightyard.generator.service import ParamsService
from freightyard.generator.states import StateReader, StoreFactory

log = logging.getLogger("freightyard.generator")

if TYPE_CHECKING:
    from freightyard.shared.core.model import Pipeline
    from freightyard.shared.kube.client import KubeApi
    from freightyard.shared.stores.base import DocumentStore


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    store_factory: StoreFactory | None = None,
    configmap_lister: Lister | None = None,
) -> Flask:
    """Build the generator. ``config``: settings as a mapping (default: the environment).

    ``store_factory(spec, pipeline)`` and ``configmap_lister(namespace, selector)`` replace the
    Kubernetes-backed defaults (tests, or other stores).
    """
    settings = Settings.from_mapping(config) if config is not None else Settings.from_env()
    kube = _kube_factory(settings)
    sources: list[PipelineSource] = []
    if settings.pipelines:
        sources.append(
            DirectorySource(settings.pipelines, repo_root=settings.repo_root, recheck_s=settings.pipelines_recheck_s)
        )
    if settings.pipeline_namespaces:
        sources.append(
            ConfigMapSource(
                settings.pipeline_namespaces,
                settings.pipeline_selector,
                configmap_lister or _default_lister(kube),
                ttl_s=settings.configmap_pipelines_ttl_s,
            )
        )
    catalog = PipelineCatalog(sources)
    states = StateReader(settings.state, store_factory or _default_store_factory(kube), ttl_s=settings.state_ttl_s)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1  # one more byte tells "too large" apart
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    app.extensions["freightyard"] = Context(
        settings=settings,
        tokens=TokenSource(settings.token, settings.token_file),
        catalog=catalog,
        service=ParamsService(catalog, states),
        metrics=Metrics.create(),
    )
    app.register_blueprint(bp)
    install_metrics_hooks(app)
    errors.register(app)
    return app


def warm(app: Flask) -> None:
    """Fill the caches of ``app`` (gunicorn calls this in each new worker); failures are only logged."""
    context: Context = app.extensions["freightyard"]
    try:
        answered = context.service.warm()
    except ApiError as e:
        log.warning("warm-up skipped: %s", e.message)
        return
    log.info("warmed %d pipelines", answered)


def _kube_factory(settings: Settings) -> Callable[[], KubeApi]:
    """A zero-argument factory building the Kubernetes client on first use (never at start-up)."""
    built: list[Callable[[], KubeApi]] = []

    def factory() -> KubeApi:
        if not built:
            from freightyard.shared.kube.client import KubeSettings, api_factory

            built.append(api_factory(KubeSettings(host=settings.kube_host or None, timeout_s=settings.kube_timeout_s)))
        return built[0]()

    return factory


def _default_lister(kube: Callable[[], KubeApi]) -> Lister:
    def lister(namespace: str, selector: str) -> list[dict[str, Any]]:
        from freightyard.shared.kube.configmaps import list_configmaps

        return list_configmaps(kube(), namespace, selector)

    return lister


def _default_store_factory(kube: Callable[[], KubeApi]) -> StoreFactory:
    def factory(spec: str, pipeline: Pipeline) -> DocumentStore:
        from freightyard.shared.stores.factory import store_from_spec

        return store_from_spec(spec, pipeline, api_factory=kube)

    return factory
