"""Serve bare git repos over smart HTTP via the real `git http-backend` CGI (optional basic auth)."""

from __future__ import annotations

import base64
import hmac
import os
import subprocess
import tempfile
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests.servers._proc import LOOPBACK, InProcessHTTPServer, ServesInThread, read_request_body, run_checked
from tests.servers.tools import git_path

_MAX_BODY = 512 * 1024 * 1024  # bound on a single request body (pushes of test repos are tiny)


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Hermetic environment for running git client commands in tests."""
    env = dict(os.environ)
    env.update(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Freightyard Test",
            "GIT_AUTHOR_EMAIL": "test@freightyard.invalid",
            "GIT_COMMITTER_NAME": "Freightyard Test",
            "GIT_COMMITTER_EMAIL": "test@freightyard.invalid",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
        }
    )
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    if extra:
        env.update(extra)
    return env


def git(*args: str, cwd: str | os.PathLike[str] | None = None, timeout: float = 120.0) -> str:
    """Run `git ARGS` hermetically; return stdout (stripped); raise with stderr on failure."""
    result = run_checked([git_path(), *args], env=git_env(), cwd=cwd, timeout=timeout)
    return result.stdout.decode().strip()


def init_bare_repo(
    root: str | os.PathLike[str],
    name: str,
    files: Mapping[str, str | bytes] | None = None,
    *,
    branch: str = "main",
    message: str = "initial commit",
) -> Path:
    """Create `root/name` (add `.git` yourself if wanted) as a bare repo; commit `files` if given."""
    path = Path(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(path))
    if files:
        commit_files(path, files, branch=branch, message=message)
    return path


def commit_files(
    bare_repo: str | os.PathLike[str],
    files: Mapping[str, str | bytes | None],
    *,
    branch: str = "main",
    message: str = "update",
) -> str:
    """Commit `files` (path -> content; None deletes) onto `branch` of a local bare repo; return the sha."""
    bare = Path(bare_repo)
    with tempfile.TemporaryDirectory(prefix="fy-git-work-") as tmp:
        work = Path(tmp) / "w"
        git("init", "--quiet", f"--initial-branch={branch}", str(work))
        has_branch = (
            subprocess.run(
                [git_path(), "--git-dir", str(bare), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                env=git_env(),
                capture_output=True,
                check=False,
                timeout=60,
            ).returncode
            == 0
        )
        if has_branch:
            git("fetch", "--quiet", str(bare), f"refs/heads/{branch}", cwd=work)
            git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=work)
        for rel, content in files.items():
            target = work / rel
            if content is None:
                if target.exists():
                    git("rm", "--quiet", "-r", "--", rel, cwd=work)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        git("add", "--all", cwd=work)
        git("commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", message, cwd=work)
        git("push", "--quiet", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)


class _GitCGIHandler(BaseHTTPRequestHandler):
    """HTTP -> CGI bridge that hands every request to `git http-backend`."""

    protocol_version = "HTTP/1.1"
    server_version = "freightyard-git-http/1"

    # Set on the per-server subclass.
    project_root: str = ""
    username: str | None = None
    password: str | None = None
    anonymous_read: bool = False
    git_binary: str = "git"
    served: list[int]  # requests seen (one shared cell per server): the scale bench counts remote traffic

    def log_message(self, format: str, *args: object) -> None:
        return  # keep test output quiet

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _authorized(self) -> str | None:
        """Return the authenticated user ('' when anonymous access is allowed), else None."""
        if self.username is None:
            return ""
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if hmac.compare_digest(user, self.username) and hmac.compare_digest(pw, self.password or ""):
                return user
            return None
        is_push = "git-receive-pack" in self.path
        if self.anonymous_read and not is_push:
            return ""
        return None

    def _read_body(self) -> bytes:
        return read_request_body(self, _MAX_BODY)

    def _send_simple(self, code: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        self.served[0] += 1
        try:
            body = self._read_body()
        except ValueError as exc:
            self._send_simple(400, str(exc))
            self.close_connection = True
            return
        user = self._authorized()
        if user is None:
            self._send_simple(401, "authentication required", {"WWW-Authenticate": 'Basic realm="freightyard-git"'})
            return
        parts = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.project_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # Enable push for everyone who got past auth, and trust repos owned by anyone.
            "GIT_CONFIG_COUNT": "3",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "GIT_CONFIG_KEY_1": "safe.directory",
            "GIT_CONFIG_VALUE_1": "*",
            "GIT_CONFIG_KEY_2": "uploadpack.allowAnySHA1InWant",
            "GIT_CONFIG_VALUE_2": "true",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": user or "anonymous",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "GATEWAY_INTERFACE": "CGI/1.1",
        }
        for key, value in self.headers.items():
            cgi_key = "HTTP_" + key.upper().replace("-", "_")
            if cgi_key not in ("HTTP_AUTHORIZATION", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING"):
                env[cgi_key] = value
        proc = subprocess.run(
            [self.git_binary, "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        out = proc.stdout
        sep = out.find(b"\r\n\r\n")
        sep_len = 4
        if sep < 0:
            sep, sep_len = out.find(b"\n\n"), 2
        if sep < 0:
            self._send_simple(500, "bad CGI response: " + proc.stderr.decode(errors="replace"))
            return
        raw_headers, payload = out[:sep].decode("latin-1"), out[sep + sep_len :]
        status = 200
        reason = "OK"
        headers: list[tuple[str, str]] = []
        for line in raw_headers.splitlines():
            if not line.strip():
                continue
            key, _, value = line.partition(":")
            value = value.strip()
            if key.lower() == "status":
                code, _, reason = value.partition(" ")
                status = int(code)
            else:
                headers.append((key, value))
        self.send_response(status, reason or None)
        for key, value in headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class GitHttpServer(ServesInThread):
    """Context manager serving every bare repo under `root` at http://127.0.0.1:PORT/<name>."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        username: str | None = None,
        password: str | None = None,
        anonymous_read: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password
        self._served = [0]
        handler = type(
            "BoundGitCGIHandler",
            (_GitCGIHandler,),
            {
                "project_root": str(self.root),
                "username": username,
                "password": password,
                "anonymous_read": anonymous_read,
                "git_binary": git_path(),
                "served": self._served,
            },
        )
        self._server = InProcessHTTPServer(handler, name="git-http")

    @property
    def requests_served(self) -> int:
        """HTTP requests answered so far (every ref check, fetch and push)."""
        return self._served[0]

    @property
    def port(self) -> int:
        """Listening port."""
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return self._server.url

    def repo_url(self, name: str) -> str:
        """Clone URL of repo `name` (relative to root) without credentials."""
        return f"{self.url}/{name.lstrip('/')}"

    def repo_url_with_auth(self, name: str) -> str:
        """Clone URL with `user:password@` embedded (only when auth is configured)."""
        if self.username is None:
            return self.repo_url(name)
        creds = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}"
        return f"http://{creds}@{LOOPBACK}:{self.port}/{name.lstrip('/')}"

    def create_repo(self, name: str, files: Mapping[str, str | bytes] | None = None, *, branch: str = "main") -> Path:
        """Create a bare repo `name` under root (optionally with an initial commit)."""
        return init_bare_repo(self.root, name, files, branch=branch)
