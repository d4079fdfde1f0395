"""Whether the warm render server still runs the code on disk: every module it has loaded, not a sample.

The client's ``code_version`` is cheap on purpose (a few directories of the CMP and shared code) and so
cannot see a change to, say, ``shared/core/state.py`` or an upgraded PyYAML. The server therefore stamps
the file of every module in ``sys.modules`` (modification time and size) as it loads them, and before
each render checks that none changed or vanished; if one did, it refuses the request as stale and exits,
so the client renders in-process with the new code and the next call starts a fresh server.
"""

from __future__ import annotations

import os
import sys
import threading

Stamp = tuple[int, int] | None


def _stamp(path: str) -> Stamp:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class LoadedModules:
    """The stamps of the files behind every loaded module; ``changed()`` names the first that differs."""

    def __init__(self) -> None:
        self._stamps: dict[str, Stamp] = {}
        self._lock = threading.Lock()
        self._loaded = 0
        self.add_new()

    def add_new(self) -> None:
        """Stamp the modules loaded since the last call (imports a render made lazily)."""
        with self._lock:
            if len(sys.modules) == self._loaded:
                return  # nothing imported since (the usual case once the first renders ran)
            self._loaded = len(sys.modules)
            for module in list(sys.modules.values()):
                path = getattr(module, "__file__", None)
                if isinstance(path, str) and path not in self._stamps:
                    self._stamps[path] = _stamp(path)

    def changed(self) -> str | None:
        """The file of a loaded module that changed on disk since it was stamped, else None."""
        with self._lock:
            stamps = list(self._stamps.items())
        for path, stamp in stamps:
            if _stamp(path) != stamp:
                return path
        return None

    def __len__(self) -> int:
        return len(self._stamps)
