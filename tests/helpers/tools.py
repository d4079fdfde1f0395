"""The one way a test asks for an external tool: skipped locally when it is missing, a failure under CI.

Never call ``pytest.skip`` for a missing tool directly; use ``require`` (or the ``*_bin`` fixtures in
tests/servers/fixtures.py, which call it), so that ``CI=true`` turns every missing tool into a red run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn

import pytest

from tests.servers.tools import ToolNotFoundError


def in_ci() -> bool:
    """True when running under CI (env CI=true/1/yes): missing tools fail instead of skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_tool(exc: ToolNotFoundError | str) -> NoReturn:
    """Skip locally, fail under CI, for a missing external tool."""
    if in_ci():
        pytest.fail(f"{exc} (CI=true: refusing to skip)", pytrace=False)
    pytest.skip(str(exc))


def require(*locators: Callable[[], str]) -> list[str]:
    """Resolve tool paths, skipping (or failing under CI) when any is missing."""
    paths: list[str] = []
    for locate in locators:
        try:
            paths.append(locate())
        except ToolNotFoundError as exc:
            missing_tool(exc)
    return paths
