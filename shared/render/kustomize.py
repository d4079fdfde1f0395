"""Kustomize rendering: a throw-away overlay (outside the repo, referencing the app by relative
path) sets the freight's images by digest and the annotations; tracked files are never touched."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from shared.errors import RenderError
from shared.freight import Image
from shared.process import ProcessError, Request, run
from shared.render.env import RenderEnv, remaining

LOAD_RESTRICTOR = "--load-restrictor=LoadRestrictionsRootOnly"


def overlay(app_dir: Path, where: Path, images: Sequence[Image], annotations: Mapping[str, str]) -> str:
    """The overlay kustomization (JSON is YAML). ``images`` entries keep the tag beside the digest,
    so workloads run ``repo:tag@sha256:…`` — the digest decides what is pulled."""
    entries = []
    for image in sorted(images, key=lambda i: i.repo_url):
        entry = {"name": image.repo_url, "newName": image.repo_url, "digest": image.digest}
        if image.tag:
            entry["newTag"] = image.tag
        entries.append(entry)
    document: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize refuses absolute paths and a parent that contains the overlay: a relative path it is.
        "resources": [os.path.relpath(app_dir, where)],
    }
    if entries:
        document["images"] = entries
    if annotations:
        # Only the objects' own metadata: pod templates stay untouched, so a new freight id alone
        # never restarts pods (commonAnnotations would reach into templates).
        transformer = {"apiVersion": "builtin", "kind": "AnnotationsTransformer",
                       "metadata": {"name": "freightyard-annotations"},
                       "annotations": dict(sorted(annotations.items())),
                       "fieldSpecs": [{"path": "metadata/annotations", "create": True}]}
        document["transformers"] = [json.dumps(transformer)]
    return json.dumps(document, indent=1)


def build(app_dir: Path, images: Sequence[Image], annotations: Mapping[str, str], *, env: RenderEnv,
          deadline: float, shown_path: str) -> bytes:
    if not env.kustomize:
        raise RenderError("kustomize is not installed: put kustomize or kubectl on PATH "
                          "(or set FREIGHTYARD_KUSTOMIZE)")
    work = Path(tempfile.mkdtemp(prefix="freightyard-kustomize-"))
    try:
        (work / "kustomization.yaml").write_text(overlay(app_dir, work, images, annotations), encoding="utf-8")
        argv = (*env.kustomize, "build") if Path(env.kustomize[0]).name.startswith("kustomize") \
            and len(env.kustomize) == 1 else env.kustomize
        request = Request(argv=(*argv, str(work), LOAD_RESTRICTOR), env=dict(env.extra_env),
                          timeout=remaining(deadline, "kustomize"))
        try:
            outcome = run(request)
        except ProcessError as error:
            raise RenderError(f"kustomize build {shown_path}: {error}") from error
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not outcome.ok:
        raise RenderError(f"kustomize build {shown_path} failed: {_clean(outcome.reason(), work)}")
    return outcome.out


def _clean(reason: str, work: Path) -> str:
    """Kustomize names our temp overlay in errors; show the user's paths instead."""
    return reason.replace(str(work), "<overlay>").removeprefix("error: ").removeprefix("Error: ")
