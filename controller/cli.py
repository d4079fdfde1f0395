"""Entry point of the ``freightyard`` command: parse arguments, dispatch, turn handled errors into one line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from freightyard import __version__
from freightyard.controller.commands import COMMANDS
from freightyard.shared.core.errors import ConfigError, FreightyardError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freightyard", description="Continuous promotion for Argo CD.")
    parser.add_argument("--version", action="version", version=f"freightyard {__version__}")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default) or ERROR")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"freightyard.controller.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"freightyard.controller.commands.{name}":
                continue  # not built into this version
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from freightyard.controller.logs import configure_logging

    configure_logging(args.log_level, args.log_format)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except ConfigError as error:
        sys.stdout.flush()
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except FreightyardError as error:
        sys.stdout.flush()
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
