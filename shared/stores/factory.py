"""Pick the state store from a one-line spec: ``file:PATH``, ``configmap:NS/NAME`` or ``configmap``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.kube.client import api_factory as default_api_factory
from freightyard.shared.stores.base import DocumentStore
from freightyard.shared.stores.configmap import ConfigMapStore
from freightyard.shared.stores.file import FileStore

if TYPE_CHECKING:
    from freightyard.shared.core.model import Pipeline

USAGE = "use file:PATH, configmap:NAMESPACE/NAME or configmap"


def store_from_spec(spec: str, pipeline: Pipeline, api_factory: Callable[[], KubeApi] | None = None) -> DocumentStore:
    """The store ``spec`` names for ``pipeline``.

    ``file:PATH`` — PATH may contain ``{pipeline}``; a directory means ``PATH/freightyard-<pipeline>.yaml``.
    ``configmap:NS/NAME`` — that ConfigMap; ``configmap`` — the one in the pipeline's ``spec.state``.
    ``api_factory`` builds the Kubernetes client on first use (default: in-cluster config or kubeconfig).
    """
    kind, sep, rest = spec.strip().partition(":")
    if kind == "file" and sep and rest:
        path = Path(rest.replace("{pipeline}", pipeline.name)).expanduser()
        if path.is_dir():
            path = path / f"freightyard-{pipeline.name}.yaml"
        return FileStore(path)
    if kind == "configmap":
        if not sep:
            namespace, name = pipeline.state.namespace, pipeline.state.name
        else:
            namespace, slash, name = rest.partition("/")
            if not (namespace and slash and name) or "/" in name:
                raise ConfigError([f"state store {spec!r}: expected configmap:NAMESPACE/NAME; {USAGE}"])
        name = name.replace("{pipeline}", pipeline.name)
        return ConfigMapStore(api_factory or default_api_factory(), namespace, name)
    raise ConfigError([f"unknown state store {spec!r}; {USAGE}"])
