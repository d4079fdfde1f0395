"""The getparams use case: find the pipeline, read its state, build the parameter sets.

The sets of the last answer per pipeline are reused while the pipeline definition, the decoded
state and the filters are the very same objects, so a busy ApplicationSet controller costs one
state read per request and nothing more.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

from freightyard.generator.errors import ApiError
from freightyard.generator.pipelines import Loaded, PipelineCatalog
from freightyard.generator.request import GetParams
from freightyard.generator.states import StateReader
from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.params import parameter_sets
from freightyard.shared.core.state import State

log = logging.getLogger("freightyard.generator")


@dataclass(frozen=True)
class _Answer:
    loaded: Loaded
    state: State
    stages: frozenset[str] | None
    apps: frozenset[str] | None
    count: int
    body: bytes  # the serialised answer: ``{"output": {"parameters": [...]}}``


class ParamsService:
    def __init__(self, catalog: PipelineCatalog, states: StateReader) -> None:
        self.catalog = catalog
        self.states = states
        self._lock = threading.Lock()
        self._answers: dict[str, _Answer] = {}

    def answer(self, request: GetParams) -> tuple[bytes, int]:
        """The JSON answer for ``request`` and its number of parameter sets; ``ApiError`` when anything fails
        (never an empty list because something failed)."""
        loaded = self.catalog.find(request.pipeline)
        state = self.states.read(loaded.pipeline)
        last = self._answers.get(request.pipeline)
        if (
            last is not None
            and last.loaded is loaded
            and last.state is state
            and last.stages == request.stages
            and last.apps == request.apps
        ):
            return last.body, last.count
        try:
            sets = parameter_sets(
                loaded.pipeline, state, stages=request.stages, apps=request.apps, pipeline_file=loaded.pipeline_file
            )
        except FreightyardError as e:
            raise ApiError.from_domain(e, f"pipeline {request.pipeline!r}") from e
        body = json.dumps({"output": {"parameters": sets}}, separators=(",", ":")).encode()
        with self._lock:
            self._answers[request.pipeline] = _Answer(loaded, state, request.stages, request.apps, len(sets), body)
        return body, len(sets)

    def warm(self) -> int:
        """Load every pipeline and answer for each once, so the first real requests find warm caches.

        Failures are left for the real request to report; returns how many pipelines were answered.
        """
        answered = 0
        for name in self.catalog.names():
            try:
                self.answer(GetParams(application_set="", pipeline=name))
                answered += 1
            except ApiError as e:
                log.warning("warming pipeline %r: %s", name, e.message)
        return answered
