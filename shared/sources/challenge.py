"""Pure parsing for registry HTTP: ``WWW-Authenticate`` challenges, ``Link`` headers, image references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)
DOCKER_HUB = "registry-1.docker.io"


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic", lower-cased
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """``Bearer realm="https://auth",service="reg",scope="repository:a:pull"`` -> Challenge; None if empty."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
        for m in _PARAM.finditer(rest)
    }
    return Challenge(scheme.lower(), params)


def next_link(link: str, base_url: str) -> str | None:
    """The absolute URL of ``rel="next"`` in a ``Link`` header, or None."""
    match = _NEXT.search(link or "")
    return urljoin(base_url, match.group(1)) if match else None


@dataclass(frozen=True)
class ImageRef:
    """Where an image repository lives: ``base`` (scheme://host[:port]), ``host`` and ``repository``."""

    base: str
    host: str
    repository: str
    verify: bool

    def url(self, path: str) -> str:
        return f"{self.base}/v2/{self.repository}/{path}"


def parse_image_ref(repo_url: str, insecure: bool = False, insecure_hosts: frozenset[str] = frozenset()) -> ImageRef:
    """``[https://|http://|oci://]host[:port]/org/name`` -> ImageRef; bare names mean Docker Hub.

    Plain HTTP only when asked for (``http://``, ``insecure: true`` or the host is listed as insecure);
    an explicit ``https://`` with ``insecure`` keeps TLS but skips verification.
    """
    url = repo_url.strip().rstrip("/")
    scheme = ""
    for prefix in ("https://", "http://", "oci://", "docker://"):
        if url.startswith(prefix):
            scheme, url = prefix[:-3], url[len(prefix) :]
            break
    host, _, repository = url.partition("/")
    if not repository or not ("." in host or ":" in host or host == "localhost"):
        host, repository = DOCKER_HUB, url if "/" in url else f"library/{url}"
    repository = repository.split("@", 1)[0]
    plain = host in insecure_hosts or insecure
    if scheme == "https":
        return ImageRef(f"https://{host}", host, repository, verify=not plain)
    if scheme == "http" or plain:
        return ImageRef(f"http://{host}", host, repository, verify=False)
    return ImageRef(f"https://{host}", host, repository, verify=True)
