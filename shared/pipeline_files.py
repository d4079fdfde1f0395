"""Reading pipeline files from disk: a file, or every YAML file under a directory.

Each file is read by ``freightyard.shared.pipeline_sources`` (the reader the controller and generator share);
here we gather the files, check that the app paths exist under the repo root, and report every
problem at once.
"""

from __future__ import annotations

from pathlib import Path

from freightyard.shared.core.errors import ConfigError, NotFoundError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.pipeline_sources import YAML_SUFFIXES, find_repo_root, parse_pipeline_file

__all__ = ["YAML_SUFFIXES", "find_pipeline", "find_repo_root", "load_pipelines", "missing_app_paths"]


def load_pipelines(path: str | Path, *, repo_root: Path | None = None, check_paths: bool = True) -> list[Pipeline]:
    """Load every Pipeline under ``path`` (a file or a directory), reporting all problems at once."""
    target = Path(path)
    if not target.exists():
        raise ConfigError([f"{target}: no such file or directory (give a pipeline file or a directory of them)"])
    files = (
        sorted(p for p in target.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        if target.is_dir()
        else [target]
    )
    pipelines: list[Pipeline] = []
    problems: list[str] = []
    for file in files:
        parsed = parse_pipeline_file(file, repo_root=repo_root, require_marker=target.is_dir())
        problems.extend(parsed.problems)
        for pipeline in parsed.pipelines:
            if check_paths:
                problems.extend(missing_app_paths(pipeline, Path(pipeline.repo_root)))
            pipelines.append(pipeline)
    names = [p.name for p in pipelines]
    for name in sorted({n for n in names if names.count(n) > 1}):
        sources = ", ".join(p.source_file for p in pipelines if p.name == name)
        problems.append(f'{sources}: metadata.name: pipeline "{name}" is defined more than once (rename one)')
    if problems:
        raise ConfigError(problems)
    if not pipelines and not target.is_dir():
        raise ConfigError(
            [f"{target}: no Pipeline document found (kind: Pipeline, apiVersion: freightyard.io/v1alpha1)"]
        )
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
                problems.append(
                    f'{pipeline.source_file}:{line}: {field}: directory "{app.path}" does not exist '
                    f"under the repo root {root} (create it or fix the path)"
                )
    return problems


def find_pipeline(pipelines: list[Pipeline], name: str) -> Pipeline:
    for pipeline in pipelines:
        if pipeline.name == name:
            return pipeline
    known = ", ".join(p.name for p in pipelines) or "none"
    raise NotFoundError(f"no pipeline named {name!r} (known: {known})")
