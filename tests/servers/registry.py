"""Run Debian's `docker-registry` (distribution v2.8) on loopback: anonymous, htpasswd or token auth."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal

from tests.servers._proc import LOOPBACK, ManagedProcess, ServerStartError, free_port, run_checked
from tests.servers.oci import RegistryClient
from tests.servers.tag_pagination_proxy import TagPaginationProxy
from tests.servers.token_server import DEFAULT_ISSUER, DEFAULT_SERVICE, TokenServer
from tests.servers.tools import htpasswd_path, registry_path

AuthMode = Literal["anonymous", "basic", "token"]
_START_ATTEMPTS = 3


def htpasswd_line(username: str, password: str) -> str:
    """bcrypt htpasswd entry (`htpasswd -Bbn`), the only hash distribution accepts."""
    out = run_checked([htpasswd_path(), "-Bbn", "-C", "4", username, password], timeout=30).stdout
    return out.decode().strip()


def _v2_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/v2/", timeout=2) as resp:  # noqa: S310 - loopback http
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


class Registry:
    """Context manager for a throwaway distribution registry at http://127.0.0.1:PORT.

    mode="anonymous": no auth. mode="basic": htpasswd (bcrypt) users.
    mode="token": Docker token auth against an in-process TokenServer (RS256 JWT).
    Storage lives in a temp dir removed on exit; manifest/blob DELETE is enabled.
    paginate_tags=True puts a TagPaginationProxy in front (registry 2.8 itself ignores
    `n`/`last` on tags/list and returns tags unsorted); `port`/`url`/`host` then point
    at the proxy and `registry_port` at the real registry.
    """

    def __init__(
        self,
        mode: AuthMode = "anonymous",
        *,
        users: Mapping[str, str] | None = None,
        pull_only: Collection[str] = (),
        anonymous_pull: bool = False,
        workdir: str | os.PathLike[str] | None = None,
        paginate_tags: bool = False,
        ready_timeout: float = 30.0,
    ) -> None:
        if mode != "anonymous" and not users:
            users = {"fy-user": "fy-" + secrets.token_hex(8)}
        self.mode: AuthMode = mode
        self.users: dict[str, str] = dict(users or {})
        self.pull_only = set(pull_only)
        self.anonymous_pull = anonymous_pull
        self.ready_timeout = ready_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="fy-registry-"))
        self.paginate_tags = paginate_tags
        self.port = 0
        self.registry_port = 0
        self.token_server: TokenServer | None = None
        self._proxy: TagPaginationProxy | None = None
        self._proc: ManagedProcess | None = None

    # -- addresses & credentials --------------------------------------------------------
    @property
    def host(self) -> str:
        """`127.0.0.1:PORT` (image references: f"{host}/repo:tag")."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}"

    @property
    def requests_served(self) -> int:
        """Requests that reached the registry through the paging proxy (needs ``paginate_tags=True``)."""
        if self._proxy is None:
            raise RuntimeError("requests_served needs Registry(paginate_tags=True): the proxy counts them")
        return self._proxy.requests_served

    @property
    def username(self) -> str | None:
        """First configured user (None for anonymous registries)."""
        return next(iter(self.users), None)

    @property
    def password(self) -> str | None:
        """Password of `username`."""
        name = self.username
        return None if name is None else self.users[name]

    def client(self, username: str | None = None, password: str | None = None) -> RegistryClient:
        """RegistryClient for this registry, defaulting to the first configured user."""
        if username is None and self.mode != "anonymous":
            username, password = self.username, self.password
        return RegistryClient(self.url, username=username, password=password)

    def ref(self, repo: str, tag: str) -> str:
        """`127.0.0.1:PORT/repo:tag`."""
        return f"{self.host}/{repo}:{tag}"

    def skopeo_creds_args(self) -> list[str]:
        """`--creds user:pass` for skopeo (empty when anonymous)."""
        if self.username is None:
            return []
        return ["--creds", f"{self.username}:{self.password}"]

    # -- lifecycle --------------------------------------------------------------------------
    def _config(self) -> dict[str, object]:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": f"{LOOPBACK}:{self.registry_port}",
                "secret": secrets.token_hex(16),
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
            "health": {"storagedriver": {"enabled": False}},
        }
        if self.mode == "basic":
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in self.users.items()))
            config["auth"] = {"htpasswd": {"realm": "freightyard-registry", "path": str(htpasswd)}}
        elif self.mode == "token":
            assert self.token_server is not None
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": DEFAULT_SERVICE,
                    "issuer": DEFAULT_ISSUER,
                    "rootcertbundle": str(self.token_server.key.cert_path),
                }
            }
        return config

    def __enter__(self) -> Registry:
        try:
            if self.mode == "token":
                self.token_server = TokenServer(
                    self.workdir / "token",
                    users=self.users,
                    pull_only=self.pull_only,
                    anonymous_pull=self.anonymous_pull,
                ).__enter__()
            self._start_registry()
            if self.paginate_tags:
                self._proxy = TagPaginationProxy(LOOPBACK, self.registry_port).__enter__()
                self.port = self._proxy.port
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_registry(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        last_error: ServerStartError | None = None
        for _ in range(_START_ATTEMPTS):  # free_port() is racy: retry on a lost race
            self.registry_port = self.port = free_port()
            config_path = self.workdir / "config.yml"
            # JSON is valid YAML: no YAML dependency, no quoting pitfalls.
            config_path.write_text(json.dumps(self._config(), indent=2))
            proc = ManagedProcess(
                [registry_path(), "serve", str(config_path)], name="docker-registry", env=env, log_dir=self.workdir
            )
            proc.start()
            try:
                proc.wait_ready(lambda: _v2_status(self.url) in (200, 401), timeout=self.ready_timeout)
            except ServerStartError as exc:
                proc.stop()
                last_error = exc
                continue
            self._proc = proc
            return
        assert last_error is not None
        raise last_error

    def log_tail(self, lines: int = 40) -> str:
        """Tail of the registry's log (useful in assertion messages)."""
        return self._proc.tail(lines) if self._proc else ""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proxy is not None:
            self._proxy.__exit__(None, None, None)
            self._proxy = None
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
        if self.token_server is not None:
            self.token_server.__exit__(None, None, None)
            self.token_server = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
