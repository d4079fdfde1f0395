"""Build minimal OCI images/indexes, push them over the registry HTTP API, write OCI layouts."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT_MANIFESTS = ", ".join([MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST])
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
_MAX_PAGES = 10_000  # bound for pagination loops


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` digest of data."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _rfc3339(value: datetime | str | None) -> str:
    if value is None:
        value = datetime.now(UTC)
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Blob:
    """A content-addressed blob with its media type."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        """sha256 digest."""
        return sha256_digest(self.data)

    def descriptor(self, **extra: object) -> dict[str, object]:
        """OCI descriptor dict for this blob."""
        desc: dict[str, object] = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}
        desc.update(extra)
        return desc


@dataclass(frozen=True)
class BuiltImage:
    """A single-platform image: config + layers + manifest (all bytes are exactly what is pushed)."""

    config: Blob
    layers: tuple[Blob, ...]
    manifest: Blob
    architecture: str
    os: str
    created: str

    @property
    def digest(self) -> str:
        """Manifest digest."""
        return self.manifest.digest

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """All non-manifest blobs (layers + config)."""
        return (*self.layers, self.config)


@dataclass(frozen=True)
class BuiltIndex:
    """A multi-platform image index plus its child images."""

    manifest: Blob
    images: tuple[BuiltImage, ...] = field(default_factory=tuple)

    @property
    def digest(self) -> str:
        """Index digest."""
        return self.manifest.digest


def make_layer(files: Mapping[str, bytes | str]) -> Blob:
    """Deterministic gzip'd tar layer containing `files` (path -> content)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            content = files[name]
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as zipped:
        zipped.write(raw.getvalue())
    return Blob(MEDIA_OCI_LAYER_GZIP, gz.getvalue())


def build_image(
    *,
    created: datetime | str | None = None,
    architecture: str = "amd64",
    os: str = "linux",
    files: Mapping[str, bytes | str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    layer: Blob | None = None,
) -> BuiltImage:
    """Build a minimal OCI image (one tiny layer, config with `created`, OCI manifest)."""
    created_s = _rfc3339(created)
    layer_blob = layer or make_layer(files or {"hello.txt": f"freightyard {architecture}\n"})
    diff_id = sha256_digest(gzip.decompress(layer_blob.data))
    config_obj: dict[str, object] = {
        "created": created_s,
        "architecture": architecture,
        "os": os,
        "config": {"Labels": dict(labels)} if labels else {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created_s, "created_by": "freightyard tests"}],
    }
    config = Blob(MEDIA_OCI_CONFIG, _canonical_json(config_obj))
    manifest_obj: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer_blob.descriptor()],
    }
    if annotations:
        manifest_obj["annotations"] = dict(annotations)
    manifest = Blob(MEDIA_OCI_MANIFEST, _canonical_json(manifest_obj))
    return BuiltImage(config, (layer_blob,), manifest, architecture, os, created_s)


def build_index(
    images: Sequence[BuiltImage] | None = None,
    *,
    created: datetime | str | None = None,
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
) -> BuiltIndex:
    """Build an OCI image index over `images` (default: one image per entry of `platforms`)."""
    if images is None:
        images = [build_image(created=created, os=o, architecture=a) for o, a in platforms]
    index_obj = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_INDEX,
        "manifests": [
            img.manifest.descriptor(platform={"architecture": img.architecture, "os": img.os}) for img in images
        ],
    }
    return BuiltIndex(Blob(MEDIA_OCI_INDEX, _canonical_json(index_obj)), tuple(images))


# --------------------------------------------------------------------------- registry client

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(RuntimeError):
    """Unexpected HTTP status from the registry or token server."""

    def __init__(self, status: int, method: str, url: str, body: bytes) -> None:
        super().__init__(f"{method} {url} -> {status}: {body[:500].decode(errors='replace')}")
        self.status = status


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class RegistryClient:
    """Tiny distribution-v2 client (stdlib only): anonymous, basic, or bearer-token auth."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._tokens: dict[str, str] = {}
        self._use_basic = False  # set once the registry asked for basic auth
        self._lock = threading.Lock()

    # -- low level ---------------------------------------------------------------------
    def _basic(self) -> str | None:
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _raw(self, method: str, url: str, *, body: bytes | None, headers: Mapping[str, str]) -> _Response:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"refusing non-HTTP URL {url!r}")
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310
        try:
            with _OPENER.open(req, timeout=self.timeout) as resp:
                return _Response(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as err:
            return _Response(err.code, dict(err.headers.items()), err.read())

    def fetch_token(self, challenge: str) -> str:
        """Perform the Docker token flow for a `Bearer realm=...,service=...,scope=...` challenge."""
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm")
        query = urllib.parse.urlencode({k: v for k, v in params.items() if k != "error"})
        headers = {}
        basic = self._basic()
        if basic:
            headers["Authorization"] = basic
        resp = self._raw("GET", f"{realm}?{query}", body=None, headers=headers)
        if resp.status != 200:
            raise RegistryError(resp.status, "GET", realm, resp.body)
        doc = json.loads(resp.body)
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str):
            raise RegistryError(resp.status, "GET", realm, b"no token in response")
        return token

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Iterable[int] = (200, 201, 202, 204),
        scope_key: str = "",
    ) -> _Response:
        """Send a request, answering one 401 challenge (basic or bearer); check the status."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        hdrs = dict(headers or {})
        with self._lock:
            token = self._tokens.get(scope_key)
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        elif self._use_basic:
            hdrs["Authorization"] = self._basic() or ""
        resp = self._raw(method, url, body=body, headers=hdrs)
        if resp.status == 401:
            challenge = resp.headers.get("Www-Authenticate") or resp.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                token = self.fetch_token(challenge)
                with self._lock:
                    self._tokens[scope_key] = token
                hdrs["Authorization"] = f"Bearer {token}"
            elif challenge.lower().startswith("basic") and self.username is not None:
                self._use_basic = True
                hdrs["Authorization"] = self._basic() or ""
            else:
                raise RegistryError(resp.status, method, url, resp.body)
            resp = self._raw(method, url, body=body, headers=hdrs)
        if resp.status not in set(expect):
            raise RegistryError(resp.status, method, url, resp.body)
        return resp

    def _scope(self, repo: str) -> str:
        # Basic auth needs no per-scope token; bearer tokens are cached per repository.
        return repo

    # -- blobs & manifests -------------------------------------------------------------
    def blob_exists(self, repo: str, digest: str) -> bool:
        """HEAD the blob."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", expect=(200, 404), scope_key=self._scope(repo))
        return resp.status == 200

    def push_blob(self, repo: str, data: bytes) -> str:
        """Monolithic upload (POST then PUT ?digest=); skipped when the blob already exists."""
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        resp = self.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            body=b"",
            headers={"Content-Length": "0"},
            expect=(202,),
            scope_key=self._scope(repo),
        )
        location = resp.headers.get("Location", "")
        if location.startswith("/"):
            location = self.base_url + location
        sep = "&" if "?" in location else "?"
        self.request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            body=data,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            expect=(201,),
            scope_key=self._scope(repo),
        )
        return digest

    def put_manifest(self, repo: str, reference: str, manifest: Blob) -> str:
        """PUT a manifest under a tag or digest; return its digest."""
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            body=manifest.data,
            headers={"Content-Type": manifest.media_type},
            expect=(201,),
            scope_key=self._scope(repo),
        )
        return resp.headers.get("Docker-Content-Digest") or manifest.digest

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """GET a manifest: (body, media type, digest)."""
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            headers={"Accept": ACCEPT_MANIFESTS},
            scope_key=self._scope(repo),
        )
        digest = resp.headers.get("Docker-Content-Digest") or sha256_digest(resp.body)
        return resp.body, resp.headers.get("Content-Type", ""), digest

    def delete_manifest(self, repo: str, digest: str) -> None:
        """DELETE a manifest by digest (registry must have delete enabled)."""
        self.request("DELETE", f"/v2/{repo}/manifests/{digest}", expect=(202,), scope_key=self._scope(repo))

    def push_image(self, repo: str, image: BuiltImage, tags: Sequence[str] = ()) -> str:
        """Push blobs + manifest (by digest, then under each tag); return the manifest digest."""
        for blob in image.blobs:
            self.push_blob(repo, blob.data)
        digest = self.put_manifest(repo, image.digest, image.manifest)
        for tag in tags:
            self.put_manifest(repo, tag, image.manifest)
        return digest

    def push_index(self, repo: str, index: BuiltIndex, tags: Sequence[str] = ()) -> str:
        """Push each child image by digest, then the index under each tag; return index digest."""
        for image in index.images:
            self.push_image(repo, image)
        digest = self.put_manifest(repo, index.digest, index.manifest)
        for tag in tags:
            self.put_manifest(repo, tag, index.manifest)
        return digest

    def tag_many(self, repo: str, manifest: Blob, tags: Sequence[str], *, workers: int = 8) -> None:
        """PUT one (already pushed) manifest under many tags concurrently."""
        if not tags:
            return
        # Warm the token cache once so worker threads don't all fetch tokens.
        self.put_manifest(repo, tags[0], manifest)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _ in pool.map(lambda t: self.put_manifest(repo, t, manifest), tags[1:]):
                pass

    def list_tags(self, repo: str, *, page_size: int | None = None) -> list[str]:
        """All tags of `repo`, following `Link: <...>; rel="next"` pagination (bounded)."""
        path: str | None = f"/v2/{repo}/tags/list"
        if page_size is not None:
            path = f"{path}?n={page_size}"
        tags: list[str] = []
        for _ in range(_MAX_PAGES):
            if path is None:
                return tags
            resp = self.request("GET", path, scope_key=self._scope(repo))
            tags.extend(json.loads(resp.body).get("tags") or [])
            path = _next_link(resp.headers.get("Link"))
        raise RuntimeError(f"more than {_MAX_PAGES} tag pages for {repo}")

    def catalog(self, *, page_size: int | None = None) -> list[str]:
        """All repositories in the registry (`/v2/_catalog`, paginated, bounded)."""
        path: str | None = "/v2/_catalog" + (f"?n={page_size}" if page_size else "")
        repos: list[str] = []
        for _ in range(_MAX_PAGES):
            if path is None:
                return repos
            resp = self.request("GET", path, scope_key="__catalog__")
            repos.extend(json.loads(resp.body).get("repositories") or [])
            path = _next_link(resp.headers.get("Link"))
        raise RuntimeError(f"more than {_MAX_PAGES} catalog pages")


def _next_link(link: str | None) -> str | None:
    if not link:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- convenience


def push_image(
    registry: str,
    repo: str,
    tag: str,
    *,
    created: datetime | str | None = None,
    architecture: str = "amd64",
    os: str = "linux",
    labels: Mapping[str, str] | None = None,
    username: str | None = None,
    password: str | None = None,
) -> str:
    """Build + push a minimal single-platform image as `registry/repo:tag`; return its digest."""
    image = build_image(
        created=created, architecture=architecture, os=os, labels=labels, files={"tag.txt": f"{repo}:{tag}\n"}
    )
    client = RegistryClient(registry, username=username, password=password)
    return client.push_image(repo, image, [tag])


def push_multiarch_image(
    registry: str,
    repo: str,
    tag: str,
    *,
    created: datetime | str | None = None,
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
    username: str | None = None,
    password: str | None = None,
) -> str:
    """Build + push an OCI image index (one child per (os, arch)) as `repo:tag`; return its digest."""
    images = [
        build_image(created=created, os=o, architecture=a, files={"tag.txt": f"{repo}:{tag} {o}/{a}\n"})
        for o, a in platforms
    ]
    client = RegistryClient(registry, username=username, password=password)
    return client.push_index(repo, build_index(images), [tag])


def push_many_tags(
    registry: str,
    repo: str,
    tags: Sequence[str],
    *,
    distinct_manifests: int = 3,
    created: datetime | str | None = None,
    workers: int = 8,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, str]:
    """Create many tags fast: push `distinct_manifests` images once, PUT them round-robin.

    Returns tag -> manifest digest.
    """
    client = RegistryClient(registry, username=username, password=password)
    n = max(1, min(distinct_manifests, len(tags)))
    images = [build_image(created=created, labels={"variant": str(i)}, files={"variant": f"{i}\n"}) for i in range(n)]
    for image in images:
        client.push_image(repo, image)
    result: dict[str, str] = {}
    for i, image in enumerate(images):
        group = list(tags[i::n])
        client.tag_many(repo, image.manifest, group, workers=workers)
        result.update({t: image.digest for t in group})
    return result


# --------------------------------------------------------------------------- OCI layout


def write_oci_layout(
    directory: str | os.PathLike[str],
    refs: Mapping[str, BuiltImage | BuiltIndex],
) -> Path:
    """Write an OCI image layout (oci-layout, index.json with ref.name annotations, blobs/).

    `refs` maps a ref name (usually a tag) to an image or index; readable by
    `skopeo inspect oci:DIR:REF`. Merges into an existing layout.
    """
    root = Path(directory)
    blobs_dir = root / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def put(blob: Blob) -> None:
        target = blobs_dir / blob.digest.split(":", 1)[1]
        if not target.exists():
            target.write_bytes(blob.data)

    index_path = root / "index.json"
    existing: list[dict[str, object]] = []
    if index_path.exists():
        existing = list(json.loads(index_path.read_text()).get("manifests", []))

    def ref_name(desc: dict[str, object]) -> object:
        annotations = desc.get("annotations")
        return annotations.get(REF_NAME_ANNOTATION) if isinstance(annotations, dict) else None

    manifests = [m for m in existing if ref_name(m) not in refs]
    for ref, obj in refs.items():
        images = obj.images if isinstance(obj, BuiltIndex) else (obj,)
        for img in images:
            for blob in img.blobs:
                put(blob)
            put(img.manifest)
        put(obj.manifest)
        manifests.append(obj.manifest.descriptor(annotations={REF_NAME_ANNOTATION: ref}))
    index_path.write_text(
        json.dumps({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": manifests}, indent=2)
    )
    return root
