"""``update-images``: write the freight's images (``tag`` + ``digest``) into files in git — a
kustomization's ``images:`` or a Helm values key — keeping comments and formatting, then commit
and push (default: the repository's default branch, i.e. trunk; ``branch`` for a stage branch).

    updates:
    - kustomization: apps/guestbook/overlays/dev        # default: each app's path
      images: [registry.example.com/guestbook]          # default: every freight image
    - valuesFile: charts/guestbook/values-dev.yaml
      key: image.tag
      image: registry.example.com/guestbook             # default: the freight's only image
      value: tag@digest                                 # tag | digest | ref | repository | ${{ … }}
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from freightyard.shared.core.errors import MechanismError
from freightyard.shared.core.freight import Image, normalize_repo, same_repo
from freightyard.shared.core.mechanism_options import update_images_options as validate_options
from freightyard.shared.gitops.messages import evaluate
from freightyard.shared.gitops.trees import sync
from freightyard.shared.gitops.workspace import Change, commit_and_push
from freightyard.shared.mechanisms import yamledit
from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext
from freightyard.shared.mechanisms.common import git_target, message, option, stage_repo

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
__all__ = ["UpdateImages", "validate_options"]


class UpdateImages:
    def promote(self, context: PromotionContext) -> MechanismResult:
        if not context.freight.images:
            raise MechanismError(f"freight {context.freight.short_id} has no images to write")
        repo_url = stage_repo(context)
        target = git_target(context, repo_url, "")
        if not target.branch:
            _, remote = sync(target.mirrors, repo_url, target.credentials_name)
            target = replace(target, branch=remote.head or "main")
        updates = _updates(context)
        start = option(context, "startFrom")
        change = Change(
            target.repo_url,
            target.branch,
            message(context, tuple(_describe(u) for u in updates)),
            lambda repo: apply_updates(repo, context, updates),
            target.credentials_name,
            start_from=start or "HEAD",
        )
        pushed = commit_and_push(target.mirrors, target.runner, change, attempts=target.attempts)
        where = f"{target.branch}@{pushed.commit[:7]}"
        if not pushed.changed:
            return MechanismResult("Noop", f"images already set on {where}", revision=pushed.commit)
        return MechanismResult(
            "Succeeded", f"wrote {len(context.freight.images)} image(s) to {where}", revision=pushed.commit
        )


def _updates(context: PromotionContext) -> list[dict[str, Any]]:
    configured = context.stage.promotion.options.get("updates")
    if configured:
        return [dict(u) for u in configured]
    if not context.stage.apps:
        raise MechanismError(f"stage {context.stage.name}: update-images needs apps or promotion.updates")
    return [{"kustomization": app.path} for app in context.stage.apps]


def _describe(update: dict[str, Any]) -> str:
    if "kustomization" in update:
        return f"images in {update['kustomization']}"
    return f"{update['valuesFile']} {update['key']}"


def apply_updates(repo: Path, context: PromotionContext, updates: list[dict[str, Any]]) -> None:
    """Edit every file first, write them after: one bad file leaves all untouched."""
    edits: list[tuple[Any, Any, Path]] = []
    for update in updates:
        if "kustomization" in update:
            edits.append(_kustomization(repo, context, update))
        else:
            edits.append(_values(repo, context, update))
    for handler, data, path in edits:
        yamledit.dump(handler, data, path)


def _text(context: PromotionContext, value: str, what: str) -> str:
    return evaluate(value, context.freight, context.stage.name, context.pipeline.name, what)


def _inside(repo: Path, relative: str, what: str) -> Path:
    path = (repo / relative.strip("/")).resolve()
    if relative.startswith("/") or ".." in relative.split("/") or not path.is_relative_to(repo.resolve()):
        raise MechanismError(f"{what}: {relative!r} must be a path inside the repository, without '..'")
    return path


def _kustomization(repo: Path, context: PromotionContext, update: dict[str, Any]) -> tuple[Any, Any, Path]:
    relative = _text(context, str(update["kustomization"]), "updates.kustomization")
    directory = _inside(repo, relative, "updates.kustomization")
    path = next((directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)
    if path is None:
        raise MechanismError(f"{relative}: no kustomization.yaml there; nothing was committed")
    shown = str(path.relative_to(repo.resolve()))
    handler, data = yamledit.load(path, shown)
    wanted = [str(u) for u in update.get("images") or []]
    images = [i for i in context.freight.images if not wanted or any(same_repo(i.repo_url, w) for w in wanted)]
    entries = data.get("images")
    if entries is None:
        entries = data["images"] = []
    if not isinstance(entries, list):
        raise MechanismError(f"{shown}: images must be a list; nothing was committed")
    for image in images:
        entry = next(
            (
                e
                for e in entries
                if isinstance(e, dict)
                and (
                    same_repo(str(e.get("name", "")), image.repo_url)
                    or same_repo(str(e.get("newName", "")), image.repo_url)
                )
            ),
            None,
        )
        if entry is None:
            entry = CommentedMap(name=image.repo_url)
            entries.append(entry)
        entry["newTag"] = image.tag
        entry["digest"] = image.digest
    return handler, data, path


def _values(repo: Path, context: PromotionContext, update: dict[str, Any]) -> tuple[Any, Any, Path]:
    relative = _text(context, str(update["valuesFile"]), "updates.valuesFile")
    path = _inside(repo, relative, "updates.valuesFile")
    handler, data = yamledit.load(path, relative)
    image = _image(context, str(update.get("image") or ""), relative)
    value = str(update.get("value") or "tag@digest")
    formats = {
        "tag@digest": f"{image.tag}@{image.digest}" if image.tag else image.digest,
        "tag": image.tag,
        "digest": image.digest,
        "ref": image.reference,
        "repository": image.repo_url,
    }
    text = formats[value] if value in formats else _text(context, value, f"{relative} {update['key']}")
    yamledit.set_path(data, str(update["key"]), text, relative)
    return handler, data, path


def _image(context: PromotionContext, repo_url: str, shown: str) -> Image:
    images = context.freight.images
    if repo_url:
        found = context.freight.image_from(repo_url)
        if found is None:
            raise MechanismError(
                f"{shown}: freight {context.freight.short_id} has no image {repo_url} "
                f"(it has: {', '.join(normalize_repo(i.repo_url) for i in images)})"
            )
        return found
    if len(images) != 1:
        raise MechanismError(f"{shown}: freight carries {len(images)} images; name one with image:")
    return images[0]
