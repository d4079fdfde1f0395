"""``freightyard-cmp``: the commands argocd-cmp-server runs (``generate``, ``parameters``).

Contract (docs/architecture.md §3.1): manifests and nothing else on stdout; on any failure exit non-zero with one
line on stderr (it reaches the Argo CD UI: no secrets, no tracebacks) and an empty stdout.
Imports are lazy: ``generate`` loads only what rendering needs.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from freightyard.cmp.client import finish

if TYPE_CHECKING:
    from freightyard.shared.core.model import Pipeline
    from freightyard.shared.core.state import State

USAGE = "usage: freightyard-cmp generate | parameters"
MAX_ERROR = 1000


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "generate":
        return finish(*render_request(os.environ, str(Path.cwd())))
    if command == "parameters":
        return finish(*outcome(lambda: parameters(os.environ)))
    print(USAGE, file=sys.stderr)
    return 2


def render_request(environ: Mapping[str, str], cwd: str) -> tuple[int, bytes, str]:
    """One ``generate`` as (exit code, stdout, stderr line): what the render server runs per request."""
    return outcome(lambda: generate(environ, Path(cwd)), debug=bool(environ.get("FREIGHTYARD_DEBUG")))


def generate(environ: Mapping[str, str], cwd: Path) -> bytes:
    """Render the app Argo CD asked for; returns the YAML stream (raises FreightyardError)."""
    from freightyard.cmp.env import from_environ
    from freightyard.shared.core.errors import ConfigError
    from freightyard.shared.render import RenderEnv, render_app
    from freightyard.shared.render.freight_source import resolve
    from freightyard.shared.render.locate import find_pipeline, pick_app, repo_root

    argo = from_environ(environ)
    root = repo_root(cwd, argo.source_path) if argo.source_path else _git_root(cwd)
    spec_text = argo.setting("RENDER_SPEC")
    if spec_text:  # the generator passed what this app needs: the repo copy's pipeline file is not read
        pipeline = _spec_pipeline(spec_text)
    else:
        pipeline = find_pipeline(
            root,
            argo.setting("PIPELINE"),
            argo.setting("PIPELINE_FILE") or environ.get("FREIGHTYARD_PIPELINE_FILE", ""),
        )
    stage_name = argo.setting("STAGE")
    if not stage_name:
        raise ConfigError(
            [
                f"set ARGOCD_ENV_STAGE to one of the stages of pipeline {pipeline.name!r} "
                f"({', '.join(s.name for s in pipeline.stages)})"
            ]
        )
    stage = pipeline.stage(stage_name)
    app = pick_app(stage, argo.setting("APP"), argo.source_path)
    spec = environ.get("FREIGHTYARD_STATE", "")

    def state_loader() -> State:
        from freightyard.cmp.state_source import load_state

        return load_state(spec, pipeline)

    freight = resolve(
        argo.setting("FREIGHT"), argo.setting("FREIGHT_ID"), stage_name, state_loader if spec else None, app.name
    )
    kustomize, helm = _tools(environ)
    env = RenderEnv(
        kustomize=kustomize,
        helm=helm,
        kube_version=argo.kube_version,
        api_versions=argo.kube_api_versions,
        namespace=argo.app_namespace,
        annotate=argo.flag("ANNOTATE", True),
        allow_empty=argo.flag("ALLOW_EMPTY", False),
        allow_remote_bases=_true(environ.get("FREIGHTYARD_ALLOW_REMOTE_BASES", "")),
        timeout=_seconds(environ.get("FREIGHTYARD_TIMEOUT", ""), 45.0),
    )
    return render_app(pipeline, stage_name, app, freight, root, env).manifests


def parameters(environ: Mapping[str, str]) -> bytes:
    """The dynamic parameter announcement: what the UI shows for this App (never fails on bad input)."""
    import json

    from freightyard.cmp.env import from_environ

    argo = from_environ(environ)
    announced: list[dict[str, object]] = [
        {
            "name": "pipeline",
            "title": "Pipeline",
            "tooltip": "Freightyard pipeline (env PIPELINE)",
            "required": True,
            "string": argo.setting("PIPELINE"),
        },
        {
            "name": "stage",
            "title": "Stage",
            "tooltip": "stage of the pipeline (env STAGE)",
            "required": True,
            "string": argo.setting("STAGE"),
        },
        {
            "name": "app",
            "title": "App",
            "tooltip": "app of the stage (env APP; optional with one app)",
            "string": argo.setting("APP"),
        },
    ]
    try:
        data = json.loads(argo.setting("FREIGHT") or "null")
    except ValueError:
        data = None
    if isinstance(data, dict):
        announced.append(
            {
                "name": "freight",
                "title": "Freight",
                "tooltip": "set by the generator",
                "string": f"{data.get('alias', '')} ({str(data.get('id', ''))[:12]})",
            }
        )
        images = {
            str(i.get("repoURL")): f"{i.get('repoURL')}:{i.get('tag')}@{i.get('digest')}"
            for i in data.get("images") or ()
            if isinstance(i, dict)
        }
        if images:
            announced.append(
                {"name": "images", "title": "Images (pinned by digest)", "collectionType": "map", "map": images}
            )
    return json.dumps(announced, sort_keys=True).encode()


def outcome(action: Callable[[], bytes], *, debug: bool = False) -> tuple[int, bytes, str]:
    """Run ``action``; any failure becomes exit 1, no stdout and one redacted line for stderr."""
    from freightyard.shared.core.errors import ConfigError, FreightyardError

    try:
        return 0, action(), ""
    except ConfigError as error:
        return _failure("; ".join(error.problems))
    except FreightyardError as error:
        return _failure(error.message)
    except Exception as error:  # the one line Argo CD shows; a traceback only when debugging
        if debug:
            import traceback

            traceback.print_exc()
        return _failure(f"internal error ({type(error).__name__}): {error}")


def _failure(message: str) -> tuple[int, bytes, str]:
    from freightyard.shared.core.redact import redact

    line = " ".join(redact(message).split())[:MAX_ERROR]
    return 1, b"", f"freightyard-cmp: {line}\n"


@functools.lru_cache(maxsize=64)
def _spec_pipeline(spec_text: str) -> Pipeline:
    """The pipeline of a render spec, parsed once per distinct spec in the warm render server (an app's
    spec changes only with the pipeline; parsing is most of our own time per render). At most 64 specs
    of at most 32 KiB each are kept."""
    from freightyard.shared.core.pipeline import parse_pipelines
    from freightyard.shared.core.render_spec import decode_spec

    (pipeline,) = parse_pipelines(decode_spec(spec_text), "ARGOCD_ENV_RENDER_SPEC")
    return pipeline


_FOUND_TOOLS: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_TOOL_SETTINGS = ("FREIGHTYARD_KUSTOMIZE", "FREIGHTYARD_HELM", "FREIGHTYARD_TOOLS_DIR", "PATH")


def _tools(environ: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``find_tools``, remembered per tool settings in the warm render server (a PATH search is a
    dozen stats per render). Only a search that found both tools is kept, so a tool installed later
    is still found; one removed later fails its render as "not installed"."""
    from freightyard.shared.render.env import find_tools

    key = tuple(environ.get(name, "") for name in _TOOL_SETTINGS)
    found = _FOUND_TOOLS.get(key)
    if found is None:
        found = find_tools(environ)
        if all(found) and len(_FOUND_TOOLS) < 16:
            _FOUND_TOOLS[key] = found
    return found


def _git_root(cwd: Path) -> Path:
    """Outside Argo CD (no ARGOCD_APP_SOURCE_PATH): the nearest directory holding ``.git``."""
    for candidate in (cwd, *cwd.parents):
        if (candidate / ".git").exists():
            return candidate
    return cwd


def _true(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _seconds(text: str, default: float) -> float:
    try:
        value = float(text)
    except ValueError:
        return default
    return value if 1 <= value <= 3600 else default


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
