"""The state document as a local YAML file: the same ConfigMap, locked and atomically replaced.

Cluster-free mode and tests keep state here. The version is ``metadata.resourceVersion``, an
integer string bumped on every write. Writers serialise on an exclusive ``flock`` of
``<path>.lock`` and re-check the version under it, so concurrent processes never lose a write;
readers never see a half-written file because it is replaced with ``os.replace``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from freightyard.shared.core import safe_yaml
from freightyard.shared.core.errors import ConfigError, StoreConflict, StoreError
from freightyard.shared.stores.base import Document, Snapshot

STATE_FILE_LIMIT = 8 * safe_yaml.MAX_BYTES  # a ConfigMap-shaped file: data values are capped near 1 MiB in all


class FileStore:
    """One pipeline's state document in a YAML file (``kubectl apply -f``-able)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.description = f"file:{self.path}"
        self._parsed: tuple[tuple[int, int, int, int], Document] | None = None  # file identity -> document

    def __repr__(self) -> str:
        return f"FileStore({self.path})"

    def read(self) -> Snapshot:
        document = self._load()
        if document is None:
            return Snapshot(None, None)
        return Snapshot(document, _version_of(document))

    def write(self, document: Document, expected_version: str | None) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self._load()
            current_version = None if current is None else _version_of(current)
            if current is not None and expected_version is None:
                raise StoreConflict(f"{self.path} was created by another writer; re-read and retry")
            if current_version != expected_version:
                raise StoreConflict(
                    f"{self.path} changed since it was read (version {current_version}, "
                    f"expected {expected_version}); re-read and retry"
                )
            previous = current_version or "0"
            new_version = str(int(previous) + 1) if previous.isdigit() else "1"
            body = dict(document)
            body["metadata"] = {**(document.get("metadata") or {}), "resourceVersion": new_version}
            self._replace(yaml.dump(body, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True))
            return new_version

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(
                f"{lock_path}: cannot open the lock file ({e.strerror}); make its directory writable", temporary=False
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _load(self) -> Document | None:
        """The document, parsed again only when the file changed: every write replaces it (a new
        inode) and an edit moves its mtime, so an idle controller pays a ``stat`` per read."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError:
            info = None
        identity = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns) if info else None
        if identity is not None and self._parsed is not None and self._parsed[0] == identity:
            cached: Document = _copied(self._parsed[1])
            return cached
        loaded = self._parse()
        if loaded is not None and identity is not None:
            self._parsed = (identity, _copied(loaded))
        return loaded

    def _parse(self) -> Document | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise StoreError(
                f"{self.path}: cannot read the state file ({e}); check its permissions and encoding", temporary=False
            ) from e
        try:
            loaded = safe_yaml.load(text, str(self.path), limit=STATE_FILE_LIMIT)
        except ConfigError as e:
            raise StoreError(
                f"{e.problems[0]}: the state file cannot be read; restore it from a backup or "
                "delete it to start with empty state",
                temporary=False,
            ) from e
        if loaded is None:
            return None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("data", {}) or {}, dict):
            raise StoreError(
                f"{self.path}: the state file is not a ConfigMap document (a mapping with metadata "
                "and data); restore it from a backup or delete it",
                temporary=False,
            )
        return loaded

    def _replace(self, text: str) -> None:
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _copied(value: Any) -> Any:
    """A copy callers may change freely (documents are small: mappings, lists and strings)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _version_of(document: Document) -> str:
    """The document's version; a hand-written file without one counts as version "0"."""
    version = (document.get("metadata") or {}).get("resourceVersion")
    return "0" if version is None else str(version)


# libyaml's safe loader/dumper when present: a controller re-reads every pipeline's state each
# interval, and the pure-Python parser was most of its idle CPU (bench/bench_scale.py).
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _BlockDumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """Safe YAML with multi-line strings (the ``data`` entries) as readable ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)
