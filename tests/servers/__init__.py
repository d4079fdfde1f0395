"""Real local servers (git, OCI registry, helm repo) and tool locators for integration tests."""

from tests.servers.tools import ToolNotFoundError, find_tool

__all__ = ["ToolNotFoundError", "find_tool"]
