"""``render-branch``: render each app of the stage with the freight (images by digest) and commit
the output to the stage branch (default ``env/<stage>``).

Layout on the branch, per app: ``<app.path>/manifests.yaml`` (the rendered stream) and
``<app.path>/.freightyard/freight.yaml`` (freight, source commit, render hash). The metadata sits in
a sub-directory so a plain Argo CD directory source (not recursive) never applies it. Nothing is
committed when every app's render hash equals the one already on the branch.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml

from freightyard.shared.core import safe_yaml
from freightyard.shared.core.errors import ConfigError, MechanismError
from freightyard.shared.core.mechanism_options import render_branch_options as validate_options
from freightyard.shared.gitops.workspace import Change, commit_and_push
from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext
from freightyard.shared.mechanisms.common import git_target, message, stage_repo
from freightyard.shared.render.stage import StageRender, render_stage

MANIFESTS = "manifests.yaml"
METADATA = ".freightyard/freight.yaml"
__all__ = ["MANIFESTS", "METADATA", "RenderBranch", "validate_options"]


class RenderBranch:
    def promote(self, context: PromotionContext) -> MechanismResult:
        if not context.stage.apps:
            raise MechanismError(f"stage {context.stage.name}: render-branch needs at least one app to render")
        target = git_target(context, stage_repo(context), f"env/{context.stage.name}")
        with tempfile.TemporaryDirectory(prefix="freightyard-render-") as tmp:
            rendered = render_stage(
                context.pipeline,
                context.stage,
                context.freight,
                mirrors=target.mirrors,
                env=context.settings.tools(),
                workdir=Path(tmp),
            )
            change = Change(
                target.repo_url,
                target.branch,
                message(context, _details(rendered)),
                lambda repo: write_output(repo, context, rendered),
                target.credentials_name,
            )
            pushed = commit_and_push(target.mirrors, target.runner, change, attempts=target.attempts)
        where = f"{target.branch}@{pushed.commit[:7]}"
        if not pushed.changed:
            return MechanismResult(
                "Noop",
                f"rendered output unchanged on {where}",
                revision=pushed.commit,
                render_hash=rendered.render_hash,
            )
        return MechanismResult(
            "Succeeded",
            f"rendered {len(rendered.apps)} app(s) to {where}",
            revision=pushed.commit,
            render_hash=rendered.render_hash,
        )


def write_output(repo: Path, context: PromotionContext, rendered: StageRender) -> None:
    """Write the manifests and metadata of each app whose render hash differs from the branch's; an
    unchanged app's files (metadata included) stay byte for byte, so a commit touching app A never
    rewrites app B."""
    for app in context.stage.apps:
        directory = repo / app.path
        if _stored_hash(directory) == rendered.apps[app.name].render_hash:
            continue
        if directory.exists() and directory != repo:
            shutil.rmtree(directory)
        (directory / METADATA).parent.mkdir(parents=True, exist_ok=True)
        (directory / MANIFESTS).write_bytes(rendered.apps[app.name].manifests)
        metadata = {
            "pipeline": context.pipeline.name,
            "stage": context.stage.name,
            "app": app.name,
            "freight": context.freight.to_dict(),
            "sourceCommit": rendered.sources[app.name],
            "renderHash": rendered.apps[app.name].render_hash,
            "tool": rendered.apps[app.name].tool,
        }
        (directory / METADATA).write_text(yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")


def _stored_hash(directory: Path) -> str:
    try:
        data = safe_yaml.load((directory / METADATA).read_text(encoding="utf-8"), METADATA)
    except (OSError, UnicodeDecodeError, ConfigError):
        return ""  # unreadable or tampered: render again
    return str(data.get("renderHash", "")) if isinstance(data, dict) else ""


def _details(rendered: StageRender) -> tuple[str, ...]:
    return tuple(
        f"app    {name} {r.render_hash[:19]} from {rendered.sources[name][:7]}"
        for name, r in sorted(rendered.apps.items())
    )
