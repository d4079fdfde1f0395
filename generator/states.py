"""Read a pipeline's state for each request, decoding it again only when its version changed.

A promotion must show on the very next request, so the store is asked every time (``ttl_s`` 0, the
default). What is reused is the decoded ``State``: while the store reports the same version
(the ConfigMap's resourceVersion, the file's identity) the YAML is not parsed again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from freightyard.generator.errors import ApiError
from freightyard.shared.core.documents import decode_state
from freightyard.shared.core.errors import DocumentError, FreightyardError
from freightyard.shared.core.model import Pipeline, StateRef
from freightyard.shared.core.state import State, StateError
from freightyard.shared.stores.base import DocumentStore
from freightyard.shared.stores.file import FileStore

StoreFactory = Callable[[str, Pipeline], DocumentStore]


@dataclass(frozen=True)
class _Decoded:
    version: object  # the store's version, or the file's identity for file stores
    state: State
    read_at: float


@dataclass
class _Entry:
    store: DocumentStore
    decoded: _Decoded | None = None  # replaced as a whole, so concurrent requests never see a mix


class StateReader:
    """Per pipeline: its store (built once) and the last decoded state with the version it came from."""

    def __init__(
        self, spec: str, store_factory: StoreFactory, *, ttl_s: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.spec = spec
        self._store_factory = store_factory
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, StateRef], _Entry] = {}

    def read(self, pipeline: Pipeline) -> State:
        """The pipeline's current state; ``ApiError(503)`` when it cannot be read or decoded."""
        entry = self._entry(pipeline)
        now = self._clock()
        last = entry.decoded
        if last is not None and self._ttl_s and now - last.read_at < self._ttl_s:
            return last.state
        where = f"state of pipeline {pipeline.name!r} ({entry.store.description})"
        try:
            if isinstance(entry.store, FileStore):
                identity = _file_identity(entry.store)
                if last is not None and identity == last.version:
                    entry.decoded = _Decoded(last.version, last.state, now)
                    return last.state
                version: object = identity
                document = entry.store.read().document
            else:
                snapshot = entry.store.read()
                version, document = snapshot.version, snapshot.document
                if last is not None and version is not None and version == last.version:
                    entry.decoded = _Decoded(last.version, last.state, now)
                    return last.state
            if document is None or not document.get("data"):
                # A new pipeline has no Applications yet, so an error costs nothing there; a deleted
                # state document would otherwise become an empty list and prune every Application.
                raise ApiError(
                    503,
                    f"{where} does not exist: nothing was discovered for this pipeline yet "
                    "(run the controller or `freightyard discover`), or the state was deleted "
                    "(restore it); existing Applications are kept meanwhile",
                    reason="StateMissing",
                )
            state = decode_state(document, where, pipeline)
        except ApiError:
            raise
        except StateError as e:  # damaged: answering fewer Applications would prune them
            raise ApiError(503, f"{where} is damaged: {e.message}", reason="StateDamaged") from e
        except DocumentError as e:
            raise ApiError(503, e.message, reason="StateUnavailable") from e
        except FreightyardError as e:
            raise ApiError(503, f"{where} cannot be read: {e.message}", reason="StateUnavailable") from e
        entry.decoded = _Decoded(version, state, now)
        return state

    def _entry(self, pipeline: Pipeline) -> _Entry:
        key = (pipeline.name, pipeline.state)
        entry = self._entries.get(key)
        if entry is None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    try:
                        store = self._store_factory(self.spec, pipeline)
                    except FreightyardError as e:
                        raise ApiError(
                            503, f"state store of pipeline {pipeline.name!r}: {e}", reason="StateUnavailable"
                        ) from e
                    entry = self._entries[key] = _Entry(store)
        return entry


def _file_identity(store: FileStore) -> tuple[int, int, int] | None:
    """Changes on every write (the store replaces the file atomically); None when there is no file."""
    try:
        stat = os.stat(store.path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ApiError(
            503, f"the state file {store.path} cannot be read ({e.strerror})", reason="StateUnavailable"
        ) from e
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
