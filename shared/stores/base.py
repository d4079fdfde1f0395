"""The state-store interface: one ConfigMap-shaped document, read and written optimistically.

A store knows nothing about freight or stages; it moves a ConfigMap dict (``metadata`` + ``data``)
and a version token. ``update_document`` is the only write path the rest of the code uses: it
re-reads and re-applies the change whenever another writer got there first, so racing promotions
never lose one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from freightyard.shared.core.errors import StoreConflict

Document = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """A document as read, with the version a write must match (None: the document does not exist)."""

    document: Document | None
    version: str | None


class DocumentStore(Protocol):
    """Where one pipeline's state document lives."""

    description: str

    def read(self) -> Snapshot:
        """Return the current document, or ``Snapshot(None, None)`` when it does not exist yet."""
        ...

    def write(self, document: Document, expected_version: str | None) -> str:
        """Write ``document`` if the stored version still equals ``expected_version``.

        ``None`` means "create; it must not exist". Returns the new version. Raises
        ``StoreConflict`` when another writer got there first, ``StoreForbidden`` when refused.
        """
        ...


def update_document(
    store: DocumentStore,
    mutate: Callable[[Document | None], tuple[Document, T]],
    *,
    attempts: int = 30,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Apply ``mutate`` to the freshest document and write it, retrying on conflicts.

    ``mutate`` must be a pure function of the document it is given (it may be called several
    times); it returns the new document and a result to hand back to the caller.
    """
    for attempt in range(attempts):
        snapshot = store.read()
        document, result = mutate(snapshot.document)
        try:
            store.write(document, snapshot.version)
        except StoreConflict:
            if attempt == attempts - 1:
                raise
            backoff = min(0.5, 0.01 * 2**attempt)
            sleep(random.uniform(0, backoff))  # noqa: S311 - jitter, not cryptography
            continue
        return result
    raise AssertionError("unreachable")  # pragma: no cover
