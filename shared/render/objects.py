"""Post-process a YAML stream in Python (Helm and plain output): annotate objects, pin freight
images by digest, and emit a deterministic stream. Kustomize does the same itself (see kustomize.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from freightyard.shared.core.errors import RenderError
from freightyard.shared.core.freight import Image, normalize_repo

try:  # libyaml is several times faster; fall back where it is missing
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _Loader, _Dumper = yaml.SafeLoader, yaml.SafeDumper

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def load_objects(text: bytes | str, source: str) -> list[dict[str, Any]]:
    """Every Kubernetes object in a YAML/JSON stream; ``kind: *List`` documents are flattened."""
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        raise RenderError(f"{source}: not valid YAML: {first}") from error
    objects: list[dict[str, Any]] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise RenderError(f"{source}: a document is not a Kubernetes object (a mapping with apiVersion and kind)")
        if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
            objects.extend(item for item in document["items"] if isinstance(item, dict))
        elif document:
            objects.append(document)
    for obj in objects:
        if not obj.get("apiVersion") or not obj.get("kind"):
            name = (obj.get("metadata") or {}).get("name", "?") if isinstance(obj.get("metadata"), dict) else "?"
            raise RenderError(f"{source}: object {name!r} has no apiVersion/kind")
    return objects


def annotate(objects: Iterable[dict[str, Any]], annotations: Mapping[str, str]) -> None:
    """Add ``annotations`` to each object's own metadata (not pod templates: no restarts per freight)."""
    for obj in objects:
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict):
            metadata = obj["metadata"] = {}
        existing = metadata.get("annotations")
        metadata["annotations"] = {**(existing if isinstance(existing, dict) else {}), **annotations}


def pin_images(node: Any, images: Iterable[Image]) -> None:
    """Set every container image whose repository matches a freight image to ``repo:tag@digest``."""
    by_repo = {normalize_repo(i.repo_url): i for i in images}
    if by_repo:
        _pin(node, by_repo)


def _pin(node: Any, by_repo: dict[str, Image]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _CONTAINER_LISTS and isinstance(value, list):
                for container in value:
                    if isinstance(container, dict) and isinstance(container.get("image"), str):
                        image = by_repo.get(normalize_repo(image_name(container["image"])))
                        if image is not None:
                            container["image"] = reference(image)
            else:
                _pin(value, by_repo)
    elif isinstance(node, list):
        for item in node:
            _pin(item, by_repo)


def image_name(ref: str) -> str:
    """``registry/repo`` of ``registry/repo:tag@digest`` (a registry port is not a tag)."""
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def reference(image: Image) -> str:
    """``repo:tag@digest`` (tag kept for humans; the runtime pulls by digest), or ``repo@digest``."""
    return f"{image.repo_url}:{image.tag}@{image.digest}" if image.tag else f"{image.repo_url}@{image.digest}"


def dump_objects(objects: Iterable[dict[str, Any]]) -> bytes:
    """A deterministic YAML stream: keys sorted, block style, ``---`` between documents."""
    parts = [
        yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16)
        for obj in objects
    ]
    return "---\n".join(parts).encode()
