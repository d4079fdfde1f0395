"""Printing results as a table, JSON or YAML (``-o``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def emit(data: Any, fmt: str, table: list[list[str]] | None = None, headers: list[str] | None = None) -> None:
    if fmt == "json":
        print(json.dumps(data, indent=2, sort_keys=False))
    elif fmt == "yaml":
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")
    else:
        print_table(headers or [], table or [])


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    if not rows:
        print("(none)")
        return
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    sys.stdout.flush()
