"""The process-wide knobs promotion runs with, typed and built once at each entry point.

Every command that promotes or verifies (``freightyard promote``, ``approve``, ``verify``, ``diff`` and the
controller) builds one ``EngineSettings`` from the same flags (``controller/options.py``), so the CLI and the
controller patch and watch Applications in the same namespace for the same stage. The engine hands it to the
mechanisms inside ``PromotionContext``; nothing reads settings by string key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from freightyard.shared.credentials import CredentialLookup, EnvFileCredentials
from freightyard.shared.gitops.runner import Author
from freightyard.shared.gitops.workspace import DEFAULT_ATTEMPTS
from freightyard.shared.render.env import RenderEnv, find_tools

if TYPE_CHECKING:  # the client module is light, but only the type is needed here
    from freightyard.shared.kube.client import KubeApi

DEFAULT_ARGOCD_NAMESPACE = "argocd"


@dataclass(frozen=True)
class EngineSettings:
    """What a promotion may use beyond the pipeline and its state. Every field has a default.

    ``argocd_namespace`` (default ``argocd``): where the Applications live that ``update-app`` patches
    when an entry names no namespace, and that Argo CD verification reads. One value for CLI and controller.
    ``kube_api`` (default None: in-cluster config, else the kubeconfig, built on first use): a zero-argument
    factory of the Kubernetes client, so commands that never reach a cluster never build one.
    ``git_author`` (default None: a stage's ``author`` option, else ``Freightyard <freightyard@localhost>``):
    who promotion commits are by.
    ``credentials`` (default None: ``EnvFileCredentials.from_env()``): where git and registry secrets come from.
    ``render_env`` (default None: helm and kustomize found on PATH): the tools and limits no-op detection
    and ``render-branch`` render with.
    ``noop_detection`` (default True): compare renders first and skip the mechanism when nothing changes;
    off only for tests of the mechanisms themselves.
    ``push_attempts`` (count, default None: 5): how often a git push is retried after a lost race,
    unless the stage's ``pushAttempts`` option says otherwise.
    """

    argocd_namespace: str = DEFAULT_ARGOCD_NAMESPACE
    kube_api: Callable[[], KubeApi] | None = None
    git_author: Author | None = None
    credentials: CredentialLookup | None = None
    render_env: RenderEnv | None = None
    noop_detection: bool = True
    push_attempts: int | None = None

    def kube(self) -> KubeApi:
        """The Kubernetes client (the factory's, else the default one)."""
        from freightyard.shared.kube.client import api_factory

        return (self.kube_api or api_factory())()

    def credential_lookup(self) -> CredentialLookup:
        return self.credentials if self.credentials is not None else EnvFileCredentials.from_env()

    def tools(self) -> RenderEnv:
        """The render tools: the configured ``RenderEnv``, else one with helm and kustomize found on PATH."""
        if self.render_env is not None:
            return self.render_env
        kustomize, helm = find_tools()
        return RenderEnv(kustomize=kustomize, helm=helm)

    def attempts(self) -> int:
        return self.push_attempts if self.push_attempts is not None else DEFAULT_ATTEMPTS
