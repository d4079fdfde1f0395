"""Commit messages for promotions: a (templated) subject, then the freight listed, then trailers."""

from __future__ import annotations

from typing import Any

from freightyard.shared.core import expressions
from freightyard.shared.core.errors import MechanismError
from freightyard.shared.core.freight import Freight

DEFAULT_SUBJECT = "Promote ${{ freight.alias }} (${{ freight.short }}) into ${{ stage.name }}"


def variables(freight: Freight, stage: str, pipeline: str) -> dict[str, Any]:
    """The names promotion templates may use: ``freight``, ``stage``, ``pipeline``."""
    data = freight.to_dict()
    data["short"] = freight.short_id
    return {"freight": data, "stage": {"name": stage}, "pipeline": {"name": pipeline}}


def evaluate(template: str, freight: Freight, stage: str, pipeline: str, what: str) -> str:
    """Evaluate ``${{ … }}`` in ``template`` over the freight; ``MechanismError`` naming ``what`` on failure."""
    try:
        value = expressions.render(
            template, variables(freight, stage, pipeline), expressions.freight_functions(freight.to_dict())
        )
    except expressions.ExpressionError as error:
        raise MechanismError(f"{what}: {error}") from error
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def commit_message(template: str, freight: Freight, stage: str, pipeline: str, details: tuple[str, ...] = ()) -> str:
    """Subject from ``template`` (default: promote <alias> into <stage>), the artifacts, and trailers."""
    subject = evaluate(template or DEFAULT_SUBJECT, freight, stage, pipeline, "promotion commitMessage").strip()
    lines = [subject, ""]
    lines += [f"commit {c.repo_url} {c.tag + ' ' if c.tag else ''}{c.id}" for c in freight.commits]
    lines += [f"image  {i.reference}" for i in freight.images]
    lines += [f"chart  {c.canonical()}" for c in freight.charts]
    lines += list(details)
    lines += [
        "",
        f"Freightyard-Pipeline: {pipeline}",
        f"Freightyard-Stage: {stage}",
        f"Freightyard-Freight: {freight.id}",
    ]
    return "\n".join(lines) + "\n"
