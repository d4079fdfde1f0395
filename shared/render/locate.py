"""Find things in the repo copy the CMP runs in: its root, the pipeline file, the stage's app."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from freightyard.shared.core.errors import ConfigError, NotFoundError, RenderError
from freightyard.shared.core.model import App, Pipeline, Stage

SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = {".git", "node_modules"}


def normalize_path(path: str) -> str:
    parts = [p for p in PurePosixPath(path.strip()).parts if p not in ("/", ".")]
    return "/".join(parts) or "."


def repo_root(cwd: Path, source_path: str) -> Path:
    """The repo copy's root: ``cwd`` is ``<root>/<ARGOCD_APP_SOURCE_PATH>`` (Argo CD runs us there)."""
    if os.path.isabs(source_path.strip()):
        raise RenderError(f"ARGOCD_APP_SOURCE_PATH {source_path!r} is absolute; the app path must be relative")
    relative = normalize_path(source_path)
    if relative == ".":
        return cwd
    parts = PurePosixPath(relative).parts
    if ".." in parts:
        raise RenderError(f"ARGOCD_APP_SOURCE_PATH {source_path!r} leaves the repository")
    root = cwd
    for _ in parts:
        root = root.parent
    if (root / relative).resolve() != cwd.resolve():
        raise RenderError(
            f"cannot find the repository root: the working directory does not end with "
            f"ARGOCD_APP_SOURCE_PATH {relative!r}"
        )
    return root


def find_pipeline(root: Path, name: str, hint: str = "") -> Pipeline:
    """The pipeline ``name`` (any, if only one exists) from ``hint`` (a repo-relative file or directory)
    or, without a hint, from every YAML file in the repo that declares a freightyard Pipeline."""
    from freightyard.shared.core import safe_yaml
    from freightyard.shared.core.pipeline import declared_names, parse_pipelines
    from freightyard.shared.render.paths import inside, safe_join

    real_root = root.resolve()
    start = safe_join(real_root, real_root, hint, "pipeline file") if hint else real_root
    if hint and not start.exists():
        raise NotFoundError(f"pipeline file {hint!r} does not exist in the repository")
    found: list[Pipeline] = []
    problems: list[str] = []
    for path in [start] if start.is_file() else _yaml_files(start):
        if not inside(real_root, path):
            continue
        shown = str(path.relative_to(real_root))
        try:
            if path.stat().st_size > safe_yaml.MAX_BYTES:
                with path.open("rb") as handle:  # only its head is read: enough to know whose it is
                    head = handle.read(64 * 1024).decode("utf-8", "replace")
                if hint or (name and name in _declared(head, declared_names)):
                    problems.append(f"{shown}: larger than the {safe_yaml.MAX_BYTES // 1024} KiB allowed (split it)")
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if not hint and (b"freightyard.io/" not in data or b"Pipeline" not in data):
            continue
        if name and not hint and name not in _declared(data.decode("utf-8", "replace"), declared_names):
            continue  # another pipeline's file: never let it fail this render
        try:
            found.extend(_parsed(data, shown, parse_pipelines))
        except ConfigError as error:
            problems.extend(error.problems)
    chosen = [p for p in found if p.name == name] if name else found
    if len(chosen) == 1:
        return dataclasses.replace(chosen[0], repo_root=str(real_root))
    if problems:
        raise ConfigError(problems)
    known = ", ".join(sorted(p.name for p in found)) or "none"
    if not name and found:
        raise ConfigError([f"several pipelines found ({known}): set ARGOCD_ENV_PIPELINE"])
    if len(chosen) > 1:
        raise ConfigError([f"pipeline {name!r} is defined more than once in the repository"])
    where = f"in {hint}" if hint else "in the repository"
    raise NotFoundError(f"no pipeline {name!r} {where} (known: {known})" if name else f"no pipeline found {where}")


_PARSED: dict[tuple[bytes, str], list[Pipeline]] = {}
_PARSED_LIMIT = 64


def _parsed(data: bytes, shown: str, parse: Callable[[str, str], list[Pipeline]]) -> list[Pipeline]:
    """Parse once per file content: the warm render server sees the same pipeline file in every fresh
    repo copy. Pipelines are frozen, so sharing them between requests is safe."""
    key = (hashlib.sha256(data).digest(), shown)
    cached = _PARSED.get(key)
    if cached is None:
        cached = parse(data.decode("utf-8", "replace"), shown)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[key] = cached
    return cached


@functools.lru_cache(maxsize=256)
def _declared(text: str, names: Callable[[str], tuple[str, ...]]) -> tuple[str, ...]:
    """The pipeline names a file declares, once per content (the render server sees the same files often)."""
    return names(text)


def _yaml_files(start: Path) -> list[Path]:
    out: list[Path] = []
    for current, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        out.extend(Path(current) / f for f in sorted(files) if f.endswith(SUFFIXES))
    return out


def pick_app(stage: Stage, app_name: str, source_path: str) -> App:
    """The stage's app named ``app_name``; else the one at ``source_path``; else its only app."""
    path = normalize_path(source_path) if source_path else ""
    if not stage.apps:
        raise NotFoundError(f"stage {stage.name!r} has no apps to render")
    if app_name:
        app = next((a for a in stage.apps if a.name == app_name), None)
        if app is None:
            raise NotFoundError(
                f"stage {stage.name!r} has no app {app_name!r} (known: {', '.join(a.name for a in stage.apps)})"
            )
    else:
        at_path = [a for a in stage.apps if normalize_path(a.path) == path]
        if len(at_path) == 1:
            app = at_path[0]
        elif len(stage.apps) == 1:
            app = stage.apps[0]
        else:
            raise ConfigError(
                [f"stage {stage.name!r} has several apps ({', '.join(a.name for a in stage.apps)}): set ARGOCD_ENV_APP"]
            )
    if path and normalize_path(app.path) != path:
        raise RenderError(
            f"the Application's path {path!r} is not the path of app {app.name!r} in stage "
            f"{stage.name!r} ({app.path!r}); fix the Application or the pipeline"
        )
    return app
