"""Parse and validate the ApplicationSet controller's request body; every mistake is a 400 that says why.

    {"applicationSetName": "guestbook",
     "input": {"parameters": {"pipeline": "guestbook", "stages": ["dev"], "apps": "web,api"}}}

``pipeline`` is required; ``stages`` and ``apps`` (a list of names or a comma-separated string)
keep only those. Other parameters are ignored: an ApplicationSet may pass its own. Older Argo CD
releases sent ``inputParameters`` at the top level; it is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from freightyard.generator.errors import ApiError
from freightyard.shared.core.documents import load_json
from freightyard.shared.core.errors import DocumentError

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_FILTER_NAMES = 200


@dataclass(frozen=True)
class GetParams:
    application_set: str
    pipeline: str
    stages: frozenset[str] | None = None
    apps: frozenset[str] | None = None


def parse_body(raw: bytes) -> GetParams:
    try:
        body = load_json(raw, "request body")
    except DocumentError as e:
        raise ApiError(400, f'{e.message}; send {{"input": {{"parameters": {{"pipeline": "<name>"}}}}}}') from e
    if not isinstance(body, dict):
        raise ApiError(400, f"request body must be a JSON object, not {_kind(body)}")
    app_set = body.get("applicationSetName", "")
    if not isinstance(app_set, str):
        raise ApiError(400, f"applicationSetName must be a string, not {_kind(app_set)}")
    parameters = _parameters(body)
    pipeline = parameters.get("pipeline")
    if pipeline is None or pipeline == "":
        raise ApiError(
            400, "input.parameters.pipeline is required: the name of the pipeline whose stages become Applications"
        )
    if not isinstance(pipeline, str):
        raise ApiError(400, f"input.parameters.pipeline must be a string, not {_kind(pipeline)}")
    if not NAME.match(pipeline):
        raise ApiError(
            400,
            f"input.parameters.pipeline {pipeline[:80]!r} is not a valid pipeline name "
            "(lower-case letters, digits and '-')",
        )
    return GetParams(
        application_set=app_set[:253],
        pipeline=pipeline,
        stages=_names(parameters.get("stages"), "stages"),
        apps=_names(parameters.get("apps"), "apps"),
    )


def _parameters(body: dict[str, Any]) -> dict[str, Any]:
    if "input" in body and body["input"] is not None:
        given = body["input"]
        if not isinstance(given, dict):
            raise ApiError(400, f"input must be an object, not {_kind(given)}")
        parameters = given.get("parameters")
        where = "input.parameters"
    else:
        parameters = body.get("inputParameters")
        where = "inputParameters"
    if parameters is None:
        raise ApiError(400, 'input.parameters is required and must hold at least {"pipeline": "<name>"}')
    if not isinstance(parameters, dict):
        raise ApiError(400, f"{where} must be an object, not {_kind(parameters)}")
    return parameters


def _names(value: Any, field: str) -> frozenset[str] | None:
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ApiError(
            400, f"input.parameters.{field} must be a list of names or a comma-separated string, not {_kind(value)}"
        )
    names = [i.strip() for i in items if i.strip()]
    if len(names) > MAX_FILTER_NAMES:
        raise ApiError(400, f"input.parameters.{field} lists {len(names)} names (at most {MAX_FILTER_NAMES})")
    bad = [n for n in names if not NAME.match(n)]
    if bad:
        raise ApiError(
            400, f"input.parameters.{field}: invalid name {bad[0][:80]!r} (lower-case letters, digits and '-')"
        )
    return frozenset(names) if names else None  # an empty filter means no filter, never "prune all"


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
