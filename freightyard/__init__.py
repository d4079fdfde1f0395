"""Freightyard: continuous promotion for Argo CD. One import namespace for the CLI, controller, generator and CMP.

The user's design card keeps ``shared/``, ``cmp/``, ``generator/`` and ``controller/`` at the repository root; this
folder maps them under ``freightyard.*`` with symlinks so that static tools (mypy, ruff, import-linter) and the
installed package see the same names. Importing this module costs nothing: the CMP imports it on every render.
"""

__version__ = "0.1.0"
