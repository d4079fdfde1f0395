"""What a check reports: passed or not, and a one-line reason a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{self.name}: {self.message}"
