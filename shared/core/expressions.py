"""Expressions in pipeline strings (``${{ … }}``), evaluated with CEL — never Python ``eval``.

Available names: ``commit`` (the warehouse's commit while matching images), ``freight``,
``stage`` (``{name}``), ``pipeline`` (``{name}``) and the functions ``commitFrom(url)``,
``imageFrom(url)``, ``chartFrom(url[, name])`` over the freight being promoted.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from typing import Any

from freightyard.shared.core.expression_scan import Names, problem

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class ExpressionError(ValueError):
    pass


def _cel() -> Any:
    """Import CEL on first use. Its package ``__init__`` also loads an interactive CLI
    (prompt_toolkit, ~150 ms) that evaluation never touches; an empty stand-in keeps that off
    every hot path (the CMP renders once per Argo CD refresh)."""
    if "cel" not in sys.modules:
        sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
    import cel

    return cel


def expressions_in(text: str) -> list[str]:
    return EXPRESSION.findall(text)


MAX_EXPRESSION_CHARS = 1000  # real ones are under 200; the CEL binding's parser recurses natively (it can crash)


def _too_long(expression: str) -> str | None:
    if len(expression) > MAX_EXPRESSION_CHARS:
        size = len(expression)
        return f"expression ${{{{ {expression[:40]}… }}}} is {size} characters, more than {MAX_EXPRESSION_CHARS}"
    return None


STRING_FUNCTION_NAMES = frozenset({"substring", "short"})
PROMOTION_NAMES = Names(
    variables=frozenset({"freight", "stage", "pipeline"}),
    functions=STRING_FUNCTION_NAMES | {"commitFrom", "imageFrom", "chartFrom"},
)
TAG_FROM_NAMES = Names(variables=frozenset({"commit"}), functions=STRING_FUNCTION_NAMES)


def check(text: str, names: Names = PROMOTION_NAMES) -> str | None:
    """Return why ``text`` holds an invalid expression (syntax, an unknown name, unbounded work), or
    None when all its expressions compile and use only ``names``."""
    expressions = expressions_in(text)
    if not expressions:
        return None
    cel = _cel()
    for expression in expressions:
        why = _too_long(expression)
        if why:
            return why
        try:
            cel.compile(expression)
        except Exception as error:  # the binding raises plain ValueError/RuntimeError variants
            return f"invalid expression ${{{{ {expression} }}}}: {str(error).splitlines()[0]}"
        why = problem(expression, names)
        if why:
            return f"expression ${{{{ {expression[:80]} }}}}: {why}"
    return None


def render(text: str, variables: dict[str, Any], functions: dict[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate every ``${{ … }}`` in ``text``.

    A string that is exactly one expression yields the expression's value; otherwise each value
    is formatted into the string.
    """
    matches = list(EXPRESSION.finditer(text))
    if not matches:
        return text
    cel = _cel()
    context = cel.Context()
    for name, value in variables.items():
        context.add_variable(name, value)
    callables = {**STRING_FUNCTIONS, **(functions or {})}
    for name, function in callables.items():
        context.add_function(name, function)
    names = Names(frozenset(variables), frozenset(callables))

    def evaluate(expression: str) -> Any:
        why = _too_long(expression) or problem(expression, names)  # never hand CEL unbounded work
        if why:
            raise ExpressionError(f"${{{{ {expression[:80]} }}}}: {why}")
        try:
            return cel.evaluate(expression, context)
        except Exception as error:
            raise ExpressionError(f"${{{{ {expression} }}}}: {str(error).splitlines()[0]}") from error

    if len(matches) == 1 and matches[0].span() == (0, len(text)):
        return evaluate(matches[0].group(1))
    return EXPRESSION.sub(lambda m: _format(evaluate(m.group(1))), text)


STRING_FUNCTIONS: dict[str, Callable[..., Any]] = {
    # CEL's standard string extensions are not in every binding; these are the ones users reach for.
    "substring": lambda text, start, end=None: str(text)[int(start) : None if end is None else int(end)],
    "short": lambda text, length=7: str(text)[: int(length)],
}


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def freight_functions(freight_dict: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """``commitFrom``/``imageFrom``/``chartFrom`` over a freight's JSON form."""
    from freightyard.shared.core.freight import same_repo

    def pick(kind: str, url: str, name: str = "") -> dict[str, Any]:
        for item in freight_dict.get(kind) or ():
            if same_repo(item["repoURL"], url) and (not name or item.get("name") == name):
                return dict(item)
        raise ExpressionError(f"freight {freight_dict.get('id', '')[:7]} has no {kind[:-1]} from {url}")

    return {
        "commitFrom": lambda url: pick("commits", url),
        "imageFrom": lambda url: pick("images", url),
        "chartFrom": lambda url, name="": pick("charts", url, name),
    }
