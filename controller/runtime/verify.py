"""The narrow hook to the verification runners (``freightyard.shared.verification``), looked up lazily.

The contract we rely on is one function, ``freightyard.shared.verification.verify_stage(engine, stage_name)``,
which checks the stage's current freight. It may record the result itself (``engine.record_verification``)
or return it: ``None`` (still running — ask again later), a phase string, or an object with ``phase``
(and optionally ``message``). Until that module exists the hook is unavailable and stages with
verification stay ``Pending`` (``freightyard verify`` can record a result by hand).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from freightyard.shared.engine.promotion import Engine

log = logging.getLogger("freightyard.controller")
MODULE, FUNCTION = "freightyard.shared.verification", "verify_stage"
FINAL_PHASES = ("Succeeded", "Failed", "Error", "Skipped")

VerifyFn = Callable[[Engine, str], Any]


@dataclass(frozen=True)
class Outcome:
    """A verification result as the controller understands it; ``phase`` "" means still running."""

    phase: str = ""
    message: str = ""


def lookup() -> VerifyFn | None:
    """``freightyard.shared.verification.verify_stage`` if this build has it, else None."""
    try:
        module = importlib.import_module(MODULE)
    except ModuleNotFoundError as error:
        if error.name in (MODULE, "freightyard.shared.verification"):
            return None
        raise
    function = getattr(module, FUNCTION, None)
    return function if callable(function) else None


def interpret(result: Any) -> Outcome:
    """Turn whatever the runner returned into an ``Outcome``."""
    if result is None:
        return Outcome()
    if isinstance(result, str):
        return Outcome(result if result in FINAL_PHASES else "")
    phase = str(getattr(result, "phase", "") or "")
    message = str(getattr(result, "message", "") or "")
    return Outcome(phase if phase in FINAL_PHASES else "", message)


Key = tuple[str, str, str]  # pipeline, stage, freight id


class Inline:
    """Run a verification where the pass runs (one-shot CLI passes and tests)."""

    def poll(self, key: Key, run: Callable[[], Any]) -> tuple[bool, Callable[[], Any]]:
        return True, run


class Background:
    """Run verifications on their own threads: an Argo CD check may wait minutes for a sync, and the
    reconcile workers must keep discovering and promoting meanwhile. A pass asks again until done."""

    def __init__(self, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify")
        self._running: dict[Key, Future[Any]] = {}
        self._lock = threading.Lock()

    def poll(self, key: Key, run: Callable[[], Any]) -> tuple[bool, Callable[[], Any]]:
        """(done, a call giving the result or raising its error); starts ``run`` if it is not running."""
        with self._lock:
            future = self._running.get(key)
            if future is None:
                self._running[key] = self._pool.submit(run)
                return False, run
            if not future.done():
                return False, run
            del self._running[key]
        return True, future.result

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
