"""Reverse proxy adding OCI-spec tag-list pagination (n/last + Link) in front of registry 2.8.

Debian's docker-registry 2.8 ignores `n`/`last` on `/v2/<name>/tags/list` and returns
tags unsorted (pagination arrived in distribution v3). Everything else is forwarded
verbatim to the real registry; only that one endpoint's response is sorted and paged.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from http.server import BaseHTTPRequestHandler

from tests.servers._proc import InProcessHTTPServer, ServesInThread, read_request_body

_TAGS_LIST = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "content-length",
}


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forward to upstream; page `tags/list` responses."""

    protocol_version = "HTTP/1.1"
    upstream_host: str = ""
    upstream_port: int = 0
    served: list[int]  # requests forwarded (one shared cell per proxy): the scale bench counts registry traffic

    def log_message(self, format: str, *args: object) -> None:
        return

    def _forward(self) -> None:
        self.served[0] += 1
        try:
            body = read_request_body(self)
        except ValueError:
            self.send_error(413)
            return
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        tags_match = _TAGS_LIST.match(parts.path) if self.command == "GET" else None
        upstream_path = self.path
        if tags_match:
            upstream_path = parts.path  # fetch the full list; page it here
        # Keep repeated headers (clients send several `Accept:` lines) and the Host header
        # (the registry builds upload Location URLs from it, so they point at the proxy).
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            conn.putrequest(self.command, upstream_path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                conn.putheader(key, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            payload = resp.read()
            status, reason = resp.status, resp.reason
            resp_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            upstream_length = resp.getheader("Content-Length")
        finally:
            conn.close()
        if tags_match and status == 200:
            payload, link = self._page(tags_match.group("name"), payload, query)
            resp_headers = [(k, v) for k, v in resp_headers if k.lower() != "link"]
            if link:
                resp_headers.append(("Link", link))
        self.send_response(status, reason)
        for key, value in resp_headers:
            self.send_header(key, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", upstream_length or "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    @staticmethod
    def _page(name: str, payload: bytes, query: dict[str, list[str]]) -> tuple[bytes, str | None]:
        doc = json.loads(payload)
        tags = sorted(doc.get("tags") or [])
        last = query["last"][0] if query.get("last") else None
        if last is not None:
            tags = [t for t in tags if t > last]
        link = None
        n_raw = query["n"][0] if query.get("n") else None
        if n_raw is not None:
            n = max(0, int(n_raw))
            if len(tags) > n > 0:
                link = f'</v2/{name}/tags/list?{urllib.parse.urlencode({"n": n, "last": tags[n - 1]})}>; rel="next"'
            tags = tags[:n]
        doc["tags"] = tags
        return json.dumps(doc).encode(), link

    do_GET = _forward
    do_HEAD = _forward
    do_POST = _forward
    do_PUT = _forward
    do_PATCH = _forward
    do_DELETE = _forward


class TagPaginationProxy(ServesInThread):
    """Context manager: http://127.0.0.1:PORT proxying to upstream host:port with tag paging."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._served = [0]
        handler = type(
            "BoundProxyHandler",
            (_ProxyHandler,),
            {"upstream_host": upstream_host, "upstream_port": upstream_port, "served": self._served},
        )
        self._server = InProcessHTTPServer(handler, name="tag-pagination-proxy")

    @property
    def requests_served(self) -> int:
        """Requests forwarded so far."""
        return self._served[0]

    @property
    def port(self) -> int:
        """Listening port."""
        return self._server.port
