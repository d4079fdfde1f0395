"""``copy-branch``: copy the freight commit's files under the stage's paths to the stage branch
(default ``env/<stage>``), replacing what was there; nothing is committed when they are identical.

Without ``paths``, each app's *closure* is copied: its directory plus what its kustomizations
reference inside the repository (``freightyard.shared.render.closure``). Before pushing, every app is
rendered from the assembled branch: a branch that does not build fails the promotion (nothing pushed)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from freightyard.shared.core.errors import MechanismError
from freightyard.shared.core.mechanism_options import copy_branch_options as validate_options
from freightyard.shared.gitops.trees import export_tree
from freightyard.shared.gitops.workspace import Change, commit_and_push
from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext
from freightyard.shared.mechanisms.common import git_target, message, source_revision, stage_repo

__all__ = ["CopyBranch", "validate_options"]


class CopyBranch:
    def promote(self, context: PromotionContext) -> MechanismResult:
        paths = _paths(context)
        repo_url = stage_repo(context)
        target = git_target(context, repo_url, f"env/{context.stage.name}")
        revision = source_revision(context, repo_url)
        if not revision:
            raise MechanismError(
                f"stage {context.stage.name}: freight {context.freight.short_id} has no commit of "
                f"{repo_url} to copy; set promotion.sourceRevision"
            )
        with tempfile.TemporaryDirectory(prefix="freightyard-copy-") as tmp:
            tree = export_tree(
                target.mirrors,
                repo_url,
                revision,
                Path(tmp) / "tree",
                credentials_name=target.credentials_name,
                paths=paths if context.stage.promotion.options.get("paths") else (),
            )
            if not context.stage.promotion.options.get("paths"):
                paths = _closure(tree.root, context)

            def write(repo: Path) -> None:
                _copy(tree.root, repo, paths)
                _check_builds(repo, context)

            change = Change(
                target.repo_url,
                target.branch,
                message(context, tuple(f"copied {p} from {tree.commit[:7]}" for p in paths)),
                write,
                target.credentials_name,
            )
            pushed = commit_and_push(target.mirrors, target.runner, change, attempts=target.attempts)
        where = f"{target.branch}@{pushed.commit[:7]}"
        if not pushed.changed:
            return MechanismResult("Noop", f"{', '.join(paths)} already identical on {where}", revision=pushed.commit)
        return MechanismResult(
            "Succeeded", f"copied {', '.join(paths)} at {tree.commit[:7]} to {where}", revision=pushed.commit
        )


def _paths(context: PromotionContext) -> tuple[str, ...]:
    configured = context.stage.promotion.options.get("paths")
    paths = tuple(str(p) for p in configured) if configured else tuple(app.path for app in context.stage.apps)
    paths = tuple(p.strip("/") for p in paths)
    if not paths:
        raise MechanismError(f"stage {context.stage.name}: copy-branch needs apps or promotion.paths")
    for path in paths:
        if not path or path == "." or path.startswith("/") or ".." in path.split("/"):
            raise MechanismError(
                f"stage {context.stage.name}: copy path {path!r} must be a sub-directory "
                "of the repository, without '..'"
            )
    return paths


def _closure(root: Path, context: PromotionContext) -> tuple[str, ...]:
    from freightyard.shared.render.closure import app_closure

    needed: set[str] = set()
    for app in context.stage.apps:
        needed.update(app_closure(root, app.path, app.helm_values_files))
    paths = tuple(sorted(p for p in needed if p != "."))
    if not paths:
        raise MechanismError(f"stage {context.stage.name}: copy-branch found nothing to copy; set promotion.paths")
    return paths


def _check_builds(repo: Path, context: PromotionContext) -> None:
    """Render every app from the branch as it is about to be pushed; a failure fails the promotion."""
    from freightyard.shared.core.errors import FreightyardError
    from freightyard.shared.render import render_app

    for app in context.stage.apps:
        try:
            render_app(context.pipeline, context.stage.name, app, context.freight, repo, context.settings.tools())
        except FreightyardError as error:
            raise MechanismError(
                f"stage {context.stage.name}: the stage branch would not build app {app.name!r} "
                f"({error.message}); copy what it references (promotion.paths) or fix the app"
            ) from error


def _copy(source: Path, repo: Path, paths: tuple[str, ...]) -> None:
    for path in paths:
        destination = repo / path
        if destination.is_dir():
            shutil.rmtree(destination)
        elif destination.exists():
            destination.unlink()
        origin = source / path
        if origin.is_dir():
            shutil.copytree(origin, destination, symlinks=True)
        elif origin.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination, follow_symlinks=False)
