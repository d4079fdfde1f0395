"""Registry metadata that never changes, kept once for every pipeline: manifests, configs, build times.

A manifest or config blob named by its digest is immutable, so it is fetched once per process (and,
with a directory, once per host machine) however many subscriptions, pipelines or cycles ask for
it. Where a tag points is the only mutable fact; it is remembered for ``tag_ttl`` seconds so a
steady-state cycle over 500 tags costs the tag list plus the requests for *new* tags, and a moved
tag is still noticed within ``tag_ttl`` (``forget_tags`` drops the memo at once, e.g. on a webhook).

Memory is bounded by ``max_entries`` per table (least recently used dropped); the directory by
``max_files`` (oldest dropped). Entries on disk are checked against their digest when read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_ENTRY_BYTES = 4 * 1024 * 1024


@dataclass
class _Lru:
    limit: int
    items: OrderedDict[str, Any] = field(default_factory=OrderedDict)

    def get(self, key: str) -> Any | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.limit:
            self.items.popitem(last=False)


@dataclass
class MetadataCache:
    """Thread-safe; one per process (``DefaultSources`` holds it), shared by every registry source."""

    directory: Path | None = None
    max_entries: int = 20_000
    max_files: int = 50_000
    tag_ttl: float = 600.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _docs: _Lru = field(init=False, repr=False)
    _times: _Lru = field(init=False, repr=False)
    _tags: _Lru = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _writes: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self._docs = _Lru(self.max_entries)
        self._times = _Lru(self.max_entries)
        self._tags = _Lru(self.max_entries)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ immutable documents by digest
    def document(self, digest: str) -> tuple[str, dict[str, Any]] | None:
        """(media type, parsed JSON) stored under a manifest or blob digest, or None."""
        with self._lock:
            found = self._docs.get(digest)
        if found is not None:
            return found  # type: ignore[no-any-return]
        loaded = self._load(digest)
        if loaded is not None:
            with self._lock:
                self._docs.put(digest, loaded)
        return loaded

    def put_document(self, digest: str, media_type: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._docs.put(digest, (media_type, body))
        self._store(digest, media_type, body)

    # ------------------------------------------------------------ derived, also immutable
    def build_time(self, digest: str, platform: str) -> str | None:
        with self._lock:
            value = self._times.get(f"{digest}|{platform}")
        return None if value is None else str(value)

    def put_build_time(self, digest: str, platform: str, created: str) -> None:
        with self._lock:
            self._times.put(f"{digest}|{platform}", created)

    # ------------------------------------------------------------ the mutable part: tag -> digest
    def tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest ``tag`` pointed at less than ``tag_ttl`` seconds ago, else None."""
        with self._lock:
            entry = self._tags.get(f"{repository}:{tag}")
        if entry is None or self.clock() - entry[1] > self.tag_ttl:
            return None
        return str(entry[0])

    def put_tag(self, repository: str, tag: str, digest: str) -> None:
        with self._lock:
            self._tags.put(f"{repository}:{tag}", (digest, self.clock()))

    def forget_tags(self, repository: str) -> None:
        prefix = f"{repository}:"
        with self._lock:
            for key in [k for k in self._tags.items if k.startswith(prefix)]:
                del self._tags.items[key]

    # ------------------------------------------------------------ disk
    def _path(self, digest: str) -> Path | None:
        algorithm, _, hexdigest = digest.partition(":")
        if self.directory is None or algorithm != "sha256" or len(hexdigest) != 64 or not hexdigest.isalnum():
            return None
        return self.directory / hexdigest[:2] / f"{hexdigest}.json"

    def _load(self, digest: str) -> tuple[str, dict[str, Any]] | None:
        path = self._path(digest)
        if path is None or not path.is_file() or path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        try:
            doc = json.loads(path.read_bytes())
            raw = str(doc["raw"]).encode()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if "sha256:" + hashlib.sha256(raw).hexdigest() != str(doc.get("key")):
            return None
        body = json.loads(raw)
        return str(doc.get("mediaType", "")), body if isinstance(body, dict) else {}

    def _store(self, digest: str, media_type: str, body: dict[str, Any]) -> None:
        path = self._path(digest)
        if path is None:
            return
        raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
        if len(raw) > MAX_ENTRY_BYTES:
            return
        entry = {"mediaType": media_type, "raw": raw, "key": "sha256:" + hashlib.sha256(raw.encode()).hexdigest()}
        try:
            path.parent.mkdir(exist_ok=True)
            temp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            temp.write_text(json.dumps(entry))
            temp.replace(path)
        except OSError:
            return  # the disk cache is an optimisation: a full or read-only disk costs requests, not errors
        self._writes += 1
        if self._writes % 500 == 0:
            self._prune()

    def _prune(self) -> None:
        if self.directory is None:
            return
        files = sorted(self.directory.glob("*/*.json"), key=lambda p: p.stat().st_mtime)
        for stale in files[: max(0, len(files) - self.max_files)]:
            stale.unlink(missing_ok=True)
