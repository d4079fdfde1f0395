"""The environment argocd-cmp-server gives a plugin (docs/architecture.md §3.1), parsed once into a frozen dataclass.

Argo CD v2 drops plugin env entries with empty values, v3 passes them empty: both read the same
here because an empty value counts as unset. Settings come from ``ARGOCD_ENV_<NAME>`` (the App's
``plugin.env``), else from a plugin parameter of the same name (lower-case) in ``ARGOCD_APP_PARAMETERS``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "ARGOCD_ENV_"


@dataclass(frozen=True)
class ArgoEnv:
    app_name: str = ""  # ``ns_name`` for Apps outside the control-plane namespace
    app_namespace: str = ""  # the *destination* namespace
    project: str = ""  # v3+
    revision: str = ""
    source_repo_url: str = ""
    source_path: str = ""
    target_revision: str = ""
    kube_version: str = ""  # format varies; never parsed strictly
    kube_api_versions: tuple[str, ...] = ()
    plugin_env: Mapping[str, str] = field(default_factory=dict, repr=False)  # name verbatim, empty dropped
    parameters: Mapping[str, str] = field(default_factory=dict)  # string parameters by name

    def setting(self, name: str) -> str:
        """``ARGOCD_ENV_<NAME>`` or the ``<name>`` parameter; "" when unset or empty."""
        return self.plugin_env.get(name) or self.parameters.get(name.lower(), "")

    def flag(self, name: str, default: bool) -> bool:
        value = self.setting(name).strip().lower()
        if not value:
            return default
        return value not in ("false", "0", "no", "off")


def from_environ(environ: Mapping[str, str] | None = None) -> ArgoEnv:
    environ = os.environ if environ is None else environ
    plugin_env = {k[len(ENV_PREFIX) :]: v for k, v in environ.items() if k.startswith(ENV_PREFIX) and v != ""}
    return ArgoEnv(
        app_name=environ.get("ARGOCD_APP_NAME", ""),
        app_namespace=environ.get("ARGOCD_APP_NAMESPACE", ""),
        project=environ.get("ARGOCD_APP_PROJECT_NAME", ""),
        revision=environ.get("ARGOCD_APP_REVISION", ""),
        source_repo_url=environ.get("ARGOCD_APP_SOURCE_REPO_URL", ""),
        source_path=environ.get("ARGOCD_APP_SOURCE_PATH", ""),
        target_revision=environ.get("ARGOCD_APP_SOURCE_TARGET_REVISION", ""),
        kube_version=environ.get("KUBE_VERSION", ""),
        kube_api_versions=tuple(v.strip() for v in environ.get("KUBE_API_VERSIONS", "").split(",") if v.strip()),
        plugin_env=plugin_env,
        parameters=_parameters(environ.get("ARGOCD_APP_PARAMETERS", "")),
    )


def _parameters(text: str) -> dict[str, str]:
    """String parameters from ``ARGOCD_APP_PARAMETERS`` (a JSON array, ``null`` or absent); lenient."""
    try:
        data: Any = json.loads(text) if text.strip() else None
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for item in data if isinstance(data, list) else ():
        if (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("string"), str)
            and item["string"]
        ):
            out[item["name"]] = item["string"]
    return out
