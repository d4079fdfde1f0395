"""Telling Argo CD about a promotion, so Applications follow in seconds rather than at the next poll.

- ApplicationSets that use the pipeline get ``argocd.argoproj.io/application-set-refresh: "true"``.
  An ApplicationSet *uses* a pipeline when one of its plugin generators (also inside ``matrix`` or
  ``merge``) has ``input.parameters.pipeline`` equal to the pipeline's name, or when it carries the
  label ``freightyard.io/pipeline: <name>`` (for set-ups the spec search cannot see).
- Hand-written Applications rendered by the CMP get ``argocd.argoproj.io/refresh: hard``: the CMP's
  output is cached by the App spec, which a promotion does not change for them. Such an App has a
  ``freightyard*`` plugin source whose env (or parameters) name the pipeline and stage, and no
  ``FREIGHT_ID`` env (generator-made Apps carry the freight in their spec and need no hard refresh);
  or it is labelled ``freightyard.io/pipeline`` and ``freightyard.io/stage``. Apps owned by an
  ApplicationSet are left to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.kube.applications import (
    list_applications,
    list_applicationsets,
    refresh_applicationset,
    request_refresh,
)
from freightyard.shared.kube.client import KubeApi

log = logging.getLogger("freightyard.controller")
PIPELINE_LABEL, STAGE_LABEL = "freightyard.io/pipeline", "freightyard.io/stage"
PLUGIN_PREFIX = "freightyard"


class Refresher(Protocol):
    def promoted(self, pipeline: str, stage: str) -> list[str]:
        """Nudge Argo CD after ``stage`` of ``pipeline`` got new freight; returns what was refreshed."""
        ...


class NoRefresh:
    """Local mode: there is no Argo CD to tell."""

    def promoted(self, pipeline: str, stage: str) -> list[str]:
        return []


@dataclass
class KubeRefresher:
    """Refresh through the Kubernetes API in the Argo CD namespace(s); failures are logged, not raised."""

    api_factory: Callable[[], KubeApi]
    namespaces: tuple[str, ...] = ("argocd",)
    on_result: Callable[[str, str], None] = field(default=lambda kind, result: None)  # metrics hook

    def promoted(self, pipeline: str, stage: str) -> list[str]:
        done: list[str] = []
        for namespace in self.namespaces:
            done += self._appsets(namespace, pipeline)
            done += self._apps(namespace, pipeline, stage)
        return done

    def _appsets(self, namespace: str, pipeline: str) -> list[str]:
        done: list[str] = []
        try:
            appsets = list_applicationsets(self.api_factory(), namespace)
        except FreightyardError as error:
            log.warning(
                "cannot list ApplicationSets in %s to refresh them: %s", namespace, error, extra={"pipeline": pipeline}
            )
            self.on_result("applicationset", "error")
            return done
        for appset in appsets:
            name = str((appset.get("metadata") or {}).get("name") or "")
            if not (name and appset_uses(appset, pipeline)):
                continue
            try:
                refresh_applicationset(self.api_factory(), namespace, name)
            except FreightyardError as error:
                log.warning(
                    "cannot refresh ApplicationSet %s/%s: %s", namespace, name, error, extra={"pipeline": pipeline}
                )
                self.on_result("applicationset", "error")
                continue
            self.on_result("applicationset", "ok")
            done.append(f"applicationset/{namespace}/{name}")
        return done

    def _apps(self, namespace: str, pipeline: str, stage: str) -> list[str]:
        done: list[str] = []
        try:
            apps = list_applications(self.api_factory(), namespace)
        except FreightyardError as error:
            log.warning(
                "cannot list Applications in %s to refresh them: %s", namespace, error, extra={"pipeline": pipeline}
            )
            self.on_result("application", "error")
            return done
        for app in apps:
            name = str((app.get("metadata") or {}).get("name") or "")
            if not (name and app_needs_hard_refresh(app, pipeline, stage)):
                continue
            try:
                request_refresh(self.api_factory(), namespace, name, "hard")
            except FreightyardError as error:
                log.warning(
                    "cannot hard-refresh Application %s/%s: %s",
                    namespace,
                    name,
                    error,
                    extra={"pipeline": pipeline, "stage": stage},
                )
                self.on_result("application", "error")
                continue
            self.on_result("application", "ok")
            done.append(f"application/{namespace}/{name}")
        return done


def appset_uses(appset: dict[str, Any], pipeline: str) -> bool:
    """True when the ApplicationSet is labelled for ``pipeline`` or a plugin generator asks for it."""
    labels = (appset.get("metadata") or {}).get("labels") or {}
    if labels.get(PIPELINE_LABEL) == pipeline:
        return True
    return any(_plugin_pipeline(g) == pipeline for g in _generators((appset.get("spec") or {}).get("generators")))


def _generators(items: Any) -> Iterator[dict[str, Any]]:
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        yield item
        for combinator in ("matrix", "merge"):
            nested = item.get(combinator)
            if isinstance(nested, dict):
                yield from _generators(nested.get("generators"))


def _plugin_pipeline(generator: dict[str, Any]) -> str:
    plugin = generator.get("plugin")
    if not isinstance(plugin, dict):
        return ""
    parameters = ((plugin.get("input") or {}).get("parameters")) or {}
    value = parameters.get("pipeline") if isinstance(parameters, dict) else None
    return value if isinstance(value, str) else ""


def app_needs_hard_refresh(app: dict[str, Any], pipeline: str, stage: str) -> bool:
    """True for a hand-written CMP Application of ``pipeline``/``stage`` (see the module docstring)."""
    metadata = app.get("metadata") or {}
    if any(
        ref.get("kind") == "ApplicationSet" for ref in metadata.get("ownerReferences") or [] if isinstance(ref, dict)
    ):
        return False
    labels = metadata.get("labels") or {}
    if labels.get(PIPELINE_LABEL) == pipeline and labels.get(STAGE_LABEL) == stage:
        return True
    spec = app.get("spec") or {}
    sources = [spec.get("source"), *(spec.get("sources") or [])]
    for source in sources:
        plugin = source.get("plugin") if isinstance(source, dict) else None
        if not isinstance(plugin, dict) or not str(plugin.get("name") or PLUGIN_PREFIX).startswith(PLUGIN_PREFIX):
            continue
        settings = _plugin_settings(plugin)
        if "FREIGHT_ID" in settings:
            continue
        if settings.get("PIPELINE") == pipeline and settings.get("STAGE") == stage:
            return True
    return False


def _plugin_settings(plugin: dict[str, Any]) -> dict[str, str]:
    """The plugin's env and string parameters, upper-cased names (env wins)."""
    found: dict[str, str] = {}
    for parameter in plugin.get("parameters") or []:
        if isinstance(parameter, dict) and isinstance(parameter.get("string"), str):
            found[str(parameter.get("name") or "").upper()] = parameter["string"]
    for entry in plugin.get("env") or []:
        if isinstance(entry, dict):
            found[str(entry.get("name") or "").upper()] = str(entry.get("value") or "")
    return found
