"""Plain YAML directories, read the way Argo CD reads a directory source (``*.yaml``, ``*.yml``,
``*.json`` at the top level, in name order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freightyard.shared.core.errors import RenderError
from freightyard.shared.render.objects import load_objects
from freightyard.shared.render.paths import inside

SUFFIXES = (".yaml", ".yml", ".json")


def read_directory(root: Path, directory: Path, shown_path: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.suffix not in SUFFIXES or not path.is_file() or path.name.startswith("."):
            continue
        shown = f"{shown_path.rstrip('/')}/{path.name}"
        if not inside(root, path):
            raise RenderError(f"{shown!r} is a symlink pointing outside the repository")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise RenderError(f"{shown}: cannot read: {error.strerror}") from error
        objects.extend(load_objects(data, shown))
    return objects
