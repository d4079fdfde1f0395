"""``freightyard validate``: check pipeline files and report every problem with file:line."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from freightyard.controller.options import add_common, load_context
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.freight import same_repo
from freightyard.shared.core.model import Pipeline
from freightyard.shared.pipeline_files import missing_app_paths


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("validate", help="check pipeline files")
    add_common(parser, output=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    context = load_context(args)
    problems: list[str] = []
    notes: list[str] = []
    for pipeline in context.pipelines:
        found, skipped = _local_app_paths(pipeline)
        problems += found
        notes += skipped
    if problems:
        raise ConfigError(problems)
    for pipeline in context.pipelines:
        print(
            f"{pipeline.source_file}: pipeline {pipeline.name}: {len(pipeline.warehouses)} warehouse(s), "
            f"{len(pipeline.stages)} stage(s): ok"
        )
    for note in notes:
        print(note)
    return 0


def _local_app_paths(pipeline: Pipeline) -> tuple[list[str], list[str]]:
    """Check app paths in the local checkout when it is the apps' repository (its ``origin`` remote is
    the repo the app renders from); otherwise say what was skipped: promotions check them there."""
    root = Path(pipeline.repo_root or ".")
    local = _origin_url(root)
    checkable: list[tuple[int, int]] = []
    skipped: dict[str, list[str]] = {}
    mirrored: dict[str, list[str]] = {}
    problems: list[str] = []
    for si, stage in enumerate(pipeline.stages):
        for ai, app in enumerate(stage.apps):
            repos = [app.repo_url] if app.repo_url else _subscribed_git(pipeline, stage.name)
            if any((local and same_repo(local, r)) or _is_this_checkout(r, root) for r in repos):
                checkable.append((si, ai))
                continue
            found = _in_mirror(pipeline, repos, app.path) if len(repos) == 1 else None
            if found is None:
                where = ", ".join(repos) or "(no git subscription)"
                skipped.setdefault(where, []).append(f"{stage.name}/{app.name}")
                continue
            at, exists = found
            mirrored.setdefault(f"{repos[0]} at {at}", []).append(f"{stage.name}/{app.name}")
            if not exists:
                field = f"spec.stages[{si}].apps[{ai}].path"
                problems.append(
                    f'{pipeline.source_file}:{pipeline.lines.get(field, 0)}: {field}: directory "{app.path}" does '
                    f"not exist in {repos[0]} at {at} (create it there or fix the path)"
                )
    problems += [
        p for p in missing_app_paths(pipeline, root) if any(f"stages[{si}].apps[{ai}]" in p for si, ai in checkable)
    ]
    notes = [
        f"{pipeline.source_file}: checked app paths of {', '.join(apps)} in the local mirror of {where}"
        for where, apps in mirrored.items()
    ]
    notes += [
        f"{pipeline.source_file}: skipped app path checks of {', '.join(apps)}: they live in {repo}, not in this "
        f"checkout ({root}), and no mirror of it is cached here yet (run `freightyard discover` first); each "
        "promotion checks them there at the freight's commit"
        for repo, apps in skipped.items()
    ]
    return problems, notes


def _in_mirror(pipeline: Pipeline, repos: list[str], path: str) -> tuple[str, bool] | None:
    """(where, whether ``path`` is a directory there) in the cached mirror of the app's repository at
    its subscribed branch as last fetched; None without a mirror (nothing is fetched here)."""
    from freightyard.shared.sources.git import GitMirrors, default_cache_dir

    repo = repos[0]
    mirror = GitMirrors(default_cache_dir()).path_for(repo)
    if not mirror.is_dir():
        return None
    branch = next(
        (g.branch for w in pipeline.warehouses for g in w.git() if same_repo(g.repo_url, repo) and g.branch), "main"
    )
    sha = _git(mirror, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
    if not sha:
        return None
    kind = _git(mirror, "cat-file", "-t", f"{sha}:{path.strip('/')}")
    return f"{sha[:7]} ({branch} as last fetched)", kind == "tree"


def _git(mirror: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "--git-dir", str(mirror), *args], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""


def _subscribed_git(pipeline: Pipeline, stage_name: str) -> list[str]:
    stage = pipeline.stage(stage_name)
    return [
        g.repo_url for r in stage.requested_freight for w in pipeline.warehouses if w.name == r.origin for g in w.git()
    ]


def _is_this_checkout(repo_url: str, root: Path) -> bool:
    """A repo given as a local path (``/srv/gitops``, ``file:///srv/gitops``) that is this checkout."""
    path = repo_url.removeprefix("file://")
    if "://" in path or path.startswith("git@") or not path:
        return False
    try:
        return Path(path).expanduser().resolve() == root.resolve()
    except OSError:
        return False


def _origin_url(root: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""
