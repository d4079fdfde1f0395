"""Kustomize rendering: exactly the ``kustomize build`` of the app directory a user would run
(default load restrictor, tracked files never touched); freight images and annotations are applied
to its output afterwards (``freightyard.shared.render.textual``)."""

from __future__ import annotations

from pathlib import Path

from freightyard.shared.core.errors import RenderError
from freightyard.shared.process import ProcessError, Request, run
from freightyard.shared.render.env import RenderEnv, remaining

LOAD_RESTRICTOR = "--load-restrictor=LoadRestrictionsRootOnly"


def build(app_dir: Path, *, env: RenderEnv, deadline: float, shown_path: str) -> bytes:
    if not env.kustomize:
        raise RenderError("kustomize is not installed: put kustomize or kubectl on PATH (or set FREIGHTYARD_KUSTOMIZE)")
    argv = (
        (*env.kustomize, "build")
        if Path(env.kustomize[0]).name.startswith("kustomize") and len(env.kustomize) == 1
        else env.kustomize
    )
    request = Request(
        argv=(*argv, str(app_dir), LOAD_RESTRICTOR),
        cwd=str(app_dir),  # as a user runs it; the render server's own directory is "/"
        env=dict(env.extra_env),
        timeout=remaining(deadline, "kustomize"),
    )
    try:
        outcome = run(request)
    except ProcessError as error:
        raise RenderError(f"kustomize build {shown_path}: {error}") from error
    if not outcome.ok:
        raise RenderError(f"kustomize build {shown_path} failed: {_clean(outcome.reason(), app_dir, shown_path)}")
    return outcome.out


def _clean(reason: str, app_dir: Path, shown_path: str) -> str:
    """Show the user's repo-relative path, not the temp copy Argo CD made."""
    return reason.replace(str(app_dir), shown_path).removeprefix("error: ").removeprefix("Error: ")
