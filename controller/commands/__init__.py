"""One module per ``freightyard`` subcommand; each has ``register(subparsers)`` and ``run(args) -> int``."""

COMMANDS = (
    "validate",
    "discover",
    "freight",
    "promote",
    "approve",
    "approvals",
    "verify",
    "status",
    "apps",
    "diff",
    "render",
    "demo",
    "controller",
    "ui",
)
