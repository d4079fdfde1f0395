"""The generator's settings, parsed once from the environment (or a mapping) into a frozen dataclass."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from freightyard.shared.core.errors import ConfigError

PREFIX = "FREIGHTYARD_"
PIPELINE_LABEL = "freightyard.io/pipeline"


@dataclass(frozen=True)
class Settings:
    """Every field is read from ``FREIGHTYARD_<FIELD NAME IN UPPER CASE>``.

    ``pipelines``: a pipeline file or a directory of them (a checkout of the GitOps repo); "" for none.
    ``repo_root``: the directory app paths are relative to ("" : the nearest ``.git`` above each file);
      used only to report ``pipelineFile`` relative to the repo root.
    ``pipeline_namespaces``: comma-separated namespaces whose ConfigMaps labelled ``pipeline_selector``
      hold pipelines; "" to read none. Needs ``list`` on configmaps there.
    ``pipeline_selector``: the label selector of those ConfigMaps (default ``freightyard.io/pipeline``).
    ``state``: where state lives: ``configmap`` (each pipeline's ``spec.state``, the default),
      ``configmap:NS/NAME`` or ``file:PATH`` (see ``freightyard.shared.stores.factory``).
    ``token`` / ``token_file``: the bearer token the ApplicationSet controller sends; the file wins, is
      re-read whenever it changes (rotation without restart) and may hold several tokens, one a line,
      to overlap old and new during a rotation. One of the two is required.
    ``max_body_bytes``: largest request body accepted (default 65536 bytes; larger: 413).
    ``pipelines_recheck_s``: seconds between checks of the pipeline files' mtimes (default 1.0; 0: on
      every request). Only changed files are parsed again.
    ``configmap_pipelines_ttl_s``: seconds a listing of pipeline ConfigMaps is reused (default 10).
    ``state_ttl_s``: seconds a state read is reused (default 0: read on every request, so a promotion
      shows on the next request). Decoded state is always reused while its version is unchanged.
    ``kube_timeout_s``: timeout of each Kubernetes API call in seconds (default 5).
    ``kube_host``: an explicit API server URL ("" : in-cluster config, else the kubeconfig).
    """

    pipelines: str = ""
    repo_root: str = ""
    pipeline_namespaces: tuple[str, ...] = ()
    pipeline_selector: str = PIPELINE_LABEL
    state: str = "configmap"
    token: str = ""
    token_file: str = ""
    max_body_bytes: int = 64 * 1024
    pipelines_recheck_s: float = 1.0
    configmap_pipelines_ttl_s: float = 10.0
    state_ttl_s: float = 0.0
    kube_timeout_s: float = 5.0
    kube_host: str = ""

    def __repr__(self) -> str:  # the token never reaches a log
        shown = {k: v for k, v in self.__dict__.items() if k != "token"}
        return f"Settings({shown}, token={'***' if self.token else ''!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``FREIGHTYARD_*`` variables (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        return cls.from_mapping({k[len(PREFIX) :]: v for k, v in env.items() if k.startswith(PREFIX)})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Build from ``{"PIPELINES": ..., "TOKEN_FILE": ...}`` (upper or lower case); unknown keys are ignored."""
        given = {k.lower(): v for k, v in values.items()}
        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        for name, default in cls.__dataclass_fields__.items():
            if name not in given:
                continue
            raw = given[name]
            value = _convert(raw, default.default)
            if value is _INVALID:
                problems.append(f"{PREFIX}{name.upper()}={raw!r}: not a valid {type(default.default).__name__}")
            else:
                kwargs[name] = value
        if problems:
            raise ConfigError(problems)
        settings = cls(**kwargs)
        settings.check()
        return settings

    def check(self) -> None:
        problems = []
        if not (self.token or self.token_file):
            problems.append(
                f"{PREFIX}TOKEN_FILE (or {PREFIX}TOKEN) is required: the bearer token the "
                "ApplicationSet controller sends (data.token of the plugin ConfigMap)"
            )
        if not (self.pipelines or self.pipeline_namespaces):
            problems.append(
                f"set {PREFIX}PIPELINES (a pipeline file or directory) and/or "
                f"{PREFIX}PIPELINE_NAMESPACES (namespaces of ConfigMaps labelled {PIPELINE_LABEL})"
            )
        if self.max_body_bytes < 1024:
            problems.append(f"{PREFIX}MAX_BODY_BYTES must be at least 1024")
        for name in ("pipelines_recheck_s", "configmap_pipelines_ttl_s", "state_ttl_s", "kube_timeout_s"):
            if getattr(self, name) < 0:
                problems.append(f"{PREFIX}{name.upper()} must not be negative")
        if problems:
            raise ConfigError(problems)


_INVALID = object()  # _convert's answer for a value its field's type cannot hold
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _convert(raw: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(str(i).strip() for i in items if str(i).strip())
    if isinstance(default, bool):
        return str(raw).strip().lower() in ("1", "true", "yes", "on")
    text = str(raw).strip()
    if isinstance(default, int):
        return int(text) if _INT.fullmatch(text) else _INVALID
    if isinstance(default, float):
        return float(text) if _FLOAT.fullmatch(text) else _INVALID
    return str(raw)
