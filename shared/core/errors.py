"""The exception tree every Freightyard boundary raises, so vendor errors never leak to callers.

    FreightyardError            handled: one line for the user, a non-zero exit / an error status
    ├── ConfigError             a pipeline file or a setting is wrong (carries every problem found)
    ├── NotFoundError           a named thing (pipeline, stage, freight) does not exist
    ├── NotEligibleError        freight may not enter a stage; the message says why and what to do
    ├── StoreError              the state store could not be read or written
    │   ├── StoreConflict       someone else wrote first (optimistic concurrency); re-read and retry
    │   └── StoreForbidden      the store refused us (403, permissions); retrying will not help
    ├── SourceError             a warehouse source (git, registry, chart repo) failed
    ├── RenderError             kustomize/helm/plain rendering failed
    └── MechanismError          a promotion mechanism failed

Each error says whether retrying may help through ``temporary``.
"""

from __future__ import annotations


class FreightyardError(Exception):
    """An expected failure, reported as one line without a traceback."""

    temporary: bool = False

    def __init__(self, message: str, *, temporary: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if temporary is not None:
            self.temporary = temporary

    def __str__(self) -> str:
        return self.message


class ConfigError(FreightyardError):
    """Invalid pipeline file or setting; ``problems`` lists every problem, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(FreightyardError):
    pass


class NotEligibleError(FreightyardError):
    pass


class StoreError(FreightyardError):
    temporary = True


class StoreConflict(StoreError):
    pass


class StoreForbidden(StoreError):
    temporary = False


class SourceError(FreightyardError):
    pass


class RenderError(FreightyardError):
    pass


class MechanismError(FreightyardError):
    pass


class DocumentError(FreightyardError):
    """A document from outside (a request body, a stored state document) cannot be decoded."""
