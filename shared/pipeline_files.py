"""Reading pipeline files from disk: a file, or every YAML file under a directory.

Parsing is pure (``shared.pipeline``); here we read files, find the repo root the app paths are
relative to, and check that those paths exist.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from shared.errors import ConfigError, NotFoundError
from shared.model import Pipeline
from shared.pipeline import parse_pipelines

YAML_SUFFIXES = (".yaml", ".yml")


def find_repo_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``.git``; else ``start`` itself."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def load_pipelines(path: str | Path, *, repo_root: Path | None = None, check_paths: bool = True) -> list[Pipeline]:
    """Load every Pipeline under ``path`` (a file or a directory), reporting all problems at once."""
    target = Path(path)
    if not target.exists():
        raise ConfigError([f"{target}: no such file or directory (give a pipeline file or a directory of them)"])
    files = sorted(p for p in target.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()) \
        if target.is_dir() else [target]
    pipelines: list[Pipeline] = []
    problems: list[str] = []
    for file in files:
        shown = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{shown}: cannot read: {error}")
            continue
        if "kind: Pipeline" not in text and target.is_dir():
            continue
        try:
            found = parse_pipelines(text, shown)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        root = repo_root or find_repo_root(file.parent)
        for parsed in found:
            pipeline = dataclasses.replace(parsed, repo_root=str(root))
            if check_paths:
                problems.extend(missing_app_paths(pipeline, root))
            pipelines.append(pipeline)
    names = [p.name for p in pipelines]
    for name in sorted({n for n in names if names.count(n) > 1}):
        sources = ", ".join(p.source_file for p in pipelines if p.name == name)
        problems.append(f"{sources}: metadata.name: pipeline \"{name}\" is defined more than once (rename one)")
    if problems:
        raise ConfigError(problems)
    if not pipelines and not target.is_dir():
        raise ConfigError([f"{target}: no Pipeline document found "
                           "(kind: Pipeline, apiVersion: freightyard.io/v1alpha1)"])
    return pipelines


def missing_app_paths(pipeline: Pipeline, root: Path) -> list[str]:
    problems = []
    for si, stage in enumerate(pipeline.stages):
        for ai, app in enumerate(stage.apps):
            if app.repo_url:
                continue  # lives in another repository; checked when rendered
            if not (root / app.path).is_dir():
                field = f"spec.stages[{si}].apps[{ai}].path"
                line = pipeline.lines.get(field, 0)
                problems.append(f"{pipeline.source_file}:{line}: {field}: directory \"{app.path}\" does not exist "
                                f"under the repo root {root} (create it or fix the path)")
    return problems


def find_pipeline(pipelines: list[Pipeline], name: str) -> Pipeline:
    for pipeline in pipelines:
        if pipeline.name == name:
            return pipeline
    known = ", ".join(p.name for p in pipelines) or "none"
    raise NotFoundError(f"no pipeline named {name!r} (known: {known})")
