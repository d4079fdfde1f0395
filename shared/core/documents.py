"""Decoding documents that come from outside (request bodies, stored state) into our own errors.

The one place where the built-in exceptions of ``json`` and of a hand-edited state document are turned
into ``DocumentError`` (a ``FreightyardError``), so callers such as the generator handle only our errors.
"""

from __future__ import annotations

from typing import Any

import yaml

from freightyard.shared.core import safe_yaml
from freightyard.shared.core.errors import DocumentError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.state import State, state_from_document


def load_json(raw: bytes, what: str) -> Any:
    """``raw`` as JSON; ``DocumentError`` naming ``what`` when it is not UTF-8 JSON, or too large or deep
    (``safe_yaml.loads_json``: a nesting bomb would make ``json.loads`` recurse)."""
    try:
        return safe_yaml.loads_json(raw, what)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise DocumentError(f"{what} is not JSON ({error})") from error


def decode_state(document: dict[str, Any] | None, where: str, pipeline: Pipeline | None = None) -> State:
    """The state a stored document holds: ``StateError`` when it is damaged in a way we recognise (or belongs to
    another pipeline), ``DocumentError`` naming ``where`` and the fix when it does not even decode."""
    try:
        return state_from_document(document, pipeline)
    except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as error:  # a hand-edit gone wrong
        raise DocumentError(
            f"{where} is malformed ({type(error).__name__}: {error}); fix or restore the document"
        ) from error
