"""Helpers for the mechanism, no-op, verification and example tests: repos on the git server, engines."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

from freightyard.shared.core.freight import Commit, Freight, Image
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.render.env import RenderEnv
from freightyard.shared.settings import EngineSettings
from freightyard.shared.stores.file import FileStore
from tests.helpers.tools import require
from tests.servers.git_http import GitHttpServer, commit_files, git_env, init_bare_repo
from tests.servers.tools import git_path, helm_path, kubectl_path

IMAGE = "registry.example.com/guestbook"
DIGEST1 = "sha256:" + "1" * 64
DIGEST2 = "sha256:" + "2" * 64

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: APP}
    spec:
      selector: {matchLabels: {app: APP}}
      template:
        metadata: {labels: {app: APP}}
        spec:
          containers:
          - name: APP
            image: registry.example.com/guestbook:0.0.0
    """)


def app_files(app: str, stages: tuple[str, ...] = ("dev", "prod")) -> dict[str, str]:
    """A kustomize app: base + one overlay per stage (with an ``images:`` list and a comment)."""
    files = {
        f"apps/{app}/base/kustomization.yaml": "resources: [deployment.yaml]\n",
        f"apps/{app}/base/deployment.yaml": DEPLOYMENT.replace("APP", app),
    }
    for stage in stages:
        files[f"apps/{app}/overlays/{stage}/kustomization.yaml"] = textwrap.dedent(f"""\
            # {stage} overlay of {app}: keep this comment
            resources:
              - ../../base
            namespace: {app}-{stage}
            images:
              - name: other.example.com/sidecar  # untouched
                newTag: "1.0"
            """)
    return files


def make_repo(server: GitHttpServer, name: str, files: dict[str, str]) -> tuple[Path, str]:
    """A bare repo ``name`` on the git HTTP server with ``files`` on main; (bare path, URL)."""
    bare = init_bare_repo(server.root, name, files)
    return bare, server.repo_url(name)


def git_out(bare: Path, *args: str) -> str:
    done = subprocess.run(
        [git_path(), "--git-dir", str(bare), *args], env=git_env(), capture_output=True, check=False, timeout=60
    )
    return done.stdout.decode().strip() if done.returncode == 0 else ""


def show(bare: Path, branch: str, path: str) -> str | None:
    """The file at ``path`` on ``branch`` (None when missing)."""
    done = subprocess.run(
        [git_path(), "--git-dir", str(bare), "show", f"refs/heads/{branch}:{path}"],
        env=git_env(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    return done.stdout.decode() if done.returncode == 0 else None


def head(bare: Path, branch: str) -> str:
    return git_out(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")


def render_env() -> RenderEnv:
    kubectl, helm = require(kubectl_path, helm_path)
    return RenderEnv(kustomize=(kubectl, "kustomize"), helm=(helm,), timeout=60)


def engine_for(pipeline_text: str, tmp_path: Path, **settings: Any) -> Engine:
    pipeline = parse_pipelines(textwrap.dedent(pipeline_text))[0]
    merged = EngineSettings(**{"render_env": render_env(), **settings})
    return Engine(pipeline, FileStore(tmp_path / "state.yaml"), cache_dir=tmp_path / "cache", settings=merged)


def freight(repo_url: str, sha: str, digest: str = DIGEST1, tag: str = "1.0.0", origin: str = "main") -> Freight:
    return Freight(origin, commits=(Commit(repo_url, sha, branch="main"),), images=(Image(IMAGE, tag, digest),))


__all__ = [
    "DIGEST1",
    "DIGEST2",
    "IMAGE",
    "app_files",
    "commit_files",
    "engine_for",
    "freight",
    "git_out",
    "head",
    "make_repo",
    "render_env",
    "show",
]
