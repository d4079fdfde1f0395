"""Build the Kubernetes API client lazily from settings, and make every call with a timeout.

Nothing is created at import time; ``kubernetes`` itself is imported only when a client is built,
so commands that never talk to a cluster (the CMP's env path, file stores) do not pay for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.kube.errors import Call, KubeInvalid, reraise

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class KubeSettings:
    """How to reach the Kubernetes API.

    ``host``: an explicit API server URL (tests, local emulators); None: in-cluster config when
    running in a pod, else the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``).
    ``namespace``: where our objects live when a caller names none (default ``argocd``).
    ``timeout_s``: per-request timeout in seconds, connect and read (default 10): a hung API
    server must not hang a promotion or the CMP's deadline.
    ``verify_tls``: verify the server certificate (default True; only loopback tests turn it off).
    ``kubeconfig`` / ``context``: an explicit kubeconfig file and context (default: the current one).
    """

    host: str | None = None
    namespace: str = "argocd"
    timeout_s: float = 10.0
    verify_tls: bool = True
    kubeconfig: str | None = None
    context: str | None = None


class KubeApi:
    """A configured ``ApiClient`` plus the typed-API objects built on it; the handle callers pass around."""

    def __init__(self, api_client: Any, settings: KubeSettings) -> None:
        self.api_client = api_client
        self.settings = settings

    @cached_property
    def core(self) -> Any:
        from kubernetes import client  # lazy: importing the client costs ~0.3 s

        return client.CoreV1Api(self.api_client)

    @cached_property
    def custom(self) -> Any:
        from kubernetes import client  # lazy: importing the client costs ~0.3 s

        return client.CustomObjectsApi(self.api_client)

    def call(self, method: Callable[..., Any], call: Call, *args: Any, **kwargs: Any) -> JsonDict:
        """Run one client method with our timeout and return the response body as a plain dict."""
        try:
            response = method(*args, _request_timeout=self.settings.timeout_s, _preload_content=False, **kwargs)
            raw = response.data
        except Exception as e:  # reraise() re-raises anything that is not an API/transport error unchanged
            reraise(e, call)
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError as e:
            raise KubeInvalid(f"cannot {call}: the API server answered with non-JSON") from e
        if not isinstance(parsed, dict):
            raise KubeInvalid(f"cannot {call}: the API server answered with a JSON {type(parsed).__name__}")
        return parsed

    def close(self) -> None:
        self.api_client.close()


def make_api(settings: KubeSettings | None = None) -> KubeApi:
    """Build a ``KubeApi``: explicit host, else in-cluster config, else kubeconfig."""
    from kubernetes import client  # lazy: importing the client costs ~0.3 s

    settings = settings or KubeSettings()
    configuration = client.Configuration()
    if settings.host:
        configuration.host = settings.host.rstrip("/")
    else:
        _load_config(settings, configuration)
    configuration.verify_ssl = settings.verify_tls
    return KubeApi(client.ApiClient(configuration), settings)


def _load_config(settings: KubeSettings, configuration: Any) -> None:
    """In-cluster config unless a kubeconfig/context is named, else the kubeconfig; ConfigError if neither."""
    from kubernetes import config  # lazy, as above

    try:
        if settings.kubeconfig is None and settings.context is None:
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                return
            except config.ConfigException:
                pass  # not running in a pod
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=settings.kubeconfig, context=settings.context, client_configuration=configuration
        )
    except (config.ConfigException, OSError) as e:
        raise ConfigError(
            [
                "no Kubernetes configuration: not running in a pod and no usable kubeconfig "
                f"({type(e).__name__}); set KUBECONFIG, or use a file: state store"
            ]
        ) from e


def api_factory(settings: KubeSettings | None = None) -> Callable[[], KubeApi]:
    """A zero-argument factory that builds the client on first use and then reuses it."""
    built: list[KubeApi] = []

    def factory() -> KubeApi:
        if not built:
            built.append(make_api(settings))
        return built[0]

    return factory
