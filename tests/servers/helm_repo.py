"""Helm chart helpers (real helm binary) and a plain-HTTP chart repository server."""

from __future__ import annotations

import base64
import functools
import hmac
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from tests.servers._proc import InProcessHTTPServer, ServesInThread, run_checked
from tests.servers.tools import helm_path

_DIGEST_RE = re.compile(r"Digest:\s*(sha256:[0-9a-f]{64})")


def helm_env(home: str | os.PathLike[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment isolating helm's config/cache/data (repos, registry creds) under `home`."""
    base = Path(home)
    env = dict(os.environ)
    env.update(
        {
            "HELM_CONFIG_HOME": str(base / "config"),
            "HELM_CACHE_HOME": str(base / "cache"),
            "HELM_DATA_HOME": str(base / "data"),
            "HELM_REGISTRY_CONFIG": str(base / "config" / "registry" / "config.json"),
            "HELM_REPOSITORY_CONFIG": str(base / "config" / "repositories.yaml"),
            "HELM_REPOSITORY_CACHE": str(base / "cache" / "repository"),
            "HELM_NO_PLUGINS": "1",
        }
    )
    # Never let a developer's kube context leak into chart tests.
    env["KUBECONFIG"] = str(base / "kubeconfig-unused")
    if extra:
        env.update(extra)
    return env


@functools.lru_cache(maxsize=1)
def _default_helm_home() -> str:
    return tempfile.mkdtemp(prefix="fy-helm-home-")


def helm(
    *args: str,
    home: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input_bytes: bytes | None = None,
    timeout: float = 120.0,
) -> str:
    """Run the pinned `helm ARGS` with an isolated HELM_*_HOME; return stdout+stderr text."""
    result = run_checked(
        [helm_path(), *args],
        env=helm_env(home or _default_helm_home()),
        cwd=cwd,
        input_bytes=input_bytes,
        timeout=timeout,
    )
    return (result.stdout + result.stderr).decode(errors="replace")


def create_chart(
    workdir: str | os.PathLike[str],
    name: str,
    version: str,
    *,
    app_version: str | None = None,
    values: str | None = None,
) -> Path:
    """`helm create` a chart at workdir/name and set its version/appVersion (and values.yaml)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    chart_dir = workdir / name
    if not chart_dir.exists():
        helm("create", name, cwd=workdir)
    chart_yaml = chart_dir / "Chart.yaml"
    text = chart_yaml.read_text()
    text = re.sub(r"(?m)^version:.*$", f"version: {version}", text)
    text = re.sub(r"(?m)^appVersion:.*$", f'appVersion: "{app_version or version}"', text)
    chart_yaml.write_text(text)
    if values is not None:
        (chart_dir / "values.yaml").write_text(values)
    return chart_dir


def package_chart(
    chart_dir: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    version: str | None = None,
    app_version: str | None = None,
) -> Path:
    """`helm package` chart_dir into destination (optionally overriding version); return the .tgz."""
    dest = Path(destination)
    dest.mkdir(parents=True, exist_ok=True)
    args = ["package", str(chart_dir), "--destination", str(dest)]
    if version:
        args += ["--version", version]
    if app_version:
        args += ["--app-version", app_version]
    out = helm(*args)
    match = re.search(r"saved it to:\s*(\S+\.tgz)", out)
    if match:
        return Path(match.group(1))
    name = re.search(r"(?m)^name:\s*(\S+)", (Path(chart_dir) / "Chart.yaml").read_text())
    ver = version or re.search(  # type: ignore[union-attr]
        r"(?m)^version:\s*(\S+)", (Path(chart_dir) / "Chart.yaml").read_text()
    ).group(1)
    assert name is not None
    return dest / f"{name.group(1)}-{ver}.tgz"


def repo_index(directory: str | os.PathLike[str], url: str | None = None) -> Path:
    """`helm repo index DIR [--url URL]`; return index.yaml."""
    args = ["repo", "index", str(directory)]
    if url:
        args += ["--url", url]
    helm(*args)
    return Path(directory) / "index.yaml"


def build_chart_repo(
    directory: str | os.PathLike[str],
    charts: Mapping[str, Sequence[str]],
    *,
    url: str | None = None,
) -> list[Path]:
    """Package every (chart name -> versions) into `directory` and (re)write index.yaml."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    packages: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="fy-charts-src-") as src:
        for name, versions in charts.items():
            for version in versions:
                chart_dir = create_chart(src, name, version)
                packages.append(package_chart(chart_dir, directory, version=version))
    repo_index(directory, url)
    return packages


def push_chart_oci(
    package: str | os.PathLike[str],
    registry_host: str,
    *,
    namespace: str = "charts",
    username: str | None = None,
    password: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> str:
    """`helm push PKG oci://HOST/NAMESPACE --plain-http [--username --password]`; return digest."""
    args = ["push", str(package), f"oci://{registry_host}/{namespace.strip('/')}", "--plain-http"]
    if username is not None:
        args += ["--username", username, "--password", password or ""]
    out = helm(*args, home=home)
    match = _DIGEST_RE.search(out)
    if not match:
        raise RuntimeError(f"no digest in helm push output:\n{out}")
    return match.group(1)


class _StaticHandler(SimpleHTTPRequestHandler):
    """Static file handler with optional basic auth and no request logging."""

    username: str | None = None
    password: str | None = None

    def log_message(self, format: str, *args: object) -> None:
        return

    def _ok(self) -> bool:
        if self.username is None:
            return True
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, pw = "", ""
            if hmac.compare_digest(user, self.username) and hmac.compare_digest(pw, self.password or ""):
                return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="freightyard-charts"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self._ok():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._ok():
            super().do_HEAD()


class HelmRepoServer(ServesInThread):
    """Context manager serving `directory` (a chart repo with index.yaml) over plain HTTP."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password
        handler = type(
            "BoundStaticHandler",
            (_StaticHandler,),
            {"username": username, "password": password},
        )
        bound = functools.partial(handler, directory=str(self.directory))
        self._server = InProcessHTTPServer(bound, name="helm-repo")  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        """Listening port."""
        return self._server.port

    @property
    def url(self) -> str:
        """Repo URL, e.g. http://127.0.0.1:PORT."""
        return self._server.url

    def add_charts(self, charts: Mapping[str, Sequence[str]]) -> list[Path]:
        """Package charts (name -> versions) into the served dir and re-index with this URL."""
        return build_chart_repo(self.directory, charts, url=self.url)
