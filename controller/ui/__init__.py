"""The built UI: the standalone page and the Argo CD extension bundle (built by ``make ui`` from ui/src)."""

from __future__ import annotations

from importlib import resources

from freightyard.controller.server import Answer

FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/freightyard-ui.js": ("freightyard-ui.js", "text/javascript; charset=utf-8"),
    "/extension-freightyard.js": ("extension-freightyard.js", "text/javascript; charset=utf-8"),
}


def page(path: str) -> Answer | None:
    """A file of the standalone page, or None for any other path (only these names, no directory walking)."""
    entry = FILES.get(path)
    if entry is None:
        return None
    name, content_type = entry
    return Answer(200, resources.files(__name__).joinpath(name).read_bytes(), content_type)
