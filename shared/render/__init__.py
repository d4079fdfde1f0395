"""Render one stage's app (kustomize, Helm or plain YAML) with its freight's images pinned by digest.

The public API, used by the CMP, ``freightyard render`` and promotion mechanisms (no-op detection,
render-branch)::

    render_app(pipeline, stage_name, app, freight, repo_root, env) -> Rendered(manifests, tool).render_hash

``manifests`` is a YAML stream, byte-identical for identical inputs. ``render_hash`` (computed on first
use) is
``sha256:<hex>`` over those bytes with the ``freightyard.io/freight`` annotation lines removed, so two
freights that render the same objects (same images, same files, same stage) hash equal; everything
else — every object, image reference, the stage/pipeline annotations — is covered.
See ``freightyard.shared.render.app`` for the detection rules and ``freightyard.shared.render.paths`` for the
safety rules.
"""

from freightyard.shared.render.app import detect_tool, render_app
from freightyard.shared.render.env import Rendered, RenderEnv
from freightyard.shared.render.hashing import render_hash

__all__ = ["RenderEnv", "Rendered", "detect_tool", "render_app", "render_hash"]
