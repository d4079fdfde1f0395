"""The generator's one domain exception and the one handler that renders every failure as JSON.

The ApplicationSet controller keeps the existing Applications when we answer an error, and prunes
them when we answer an empty list; so every failure is an error status, never an empty answer.

    ApiError(status_code)     raised by the routes; its message is shown to the caller
    FreightyardError          mapped: NotFoundError → 404, ConfigError / StoreError → 503, others → 500
    HTTPException             Werkzeug's own (404 route, 405, 413) keep their status
    anything else             a bug: logged with its traceback, answered 500 without it
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from freightyard.shared.core.errors import ConfigError, FreightyardError, NotFoundError, StoreError
from freightyard.shared.core.redact import redact

log = logging.getLogger("freightyard.generator")
MAX_MESSAGE_CHARS = 4000


class ApiError(Exception):
    """A request failed in a way the caller should be told about, with an HTTP status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        reason: str = "",
        headers: dict[str, str] | None = None,
        problems: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.reason = reason or _REASONS.get(status_code, "Error")
        self.headers = headers or {}
        self.problems = problems or []

    @classmethod
    def from_domain(cls, error: FreightyardError, context: str = "") -> ApiError:
        """Map a core error to its status: unknown names 404, unreadable pipelines or state 503."""
        where = f"{context}: " if context else ""
        if isinstance(error, NotFoundError) and not isinstance(error, StoreError):
            return cls(404, f"{where}{error.message}")
        if isinstance(error, ConfigError):
            return cls(
                503,
                f"{where}pipeline configuration is invalid; fix it and the next request will see it",
                reason="PipelineInvalid",
                problems=error.problems,
            )
        if isinstance(error, StoreError):
            return cls(503, f"{where}{error.message}", reason="StateUnavailable")
        return cls(500, f"{where}{error.message}")


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    500: "InternalError",
    503: "Unavailable",
}


def error_response(error: ApiError) -> Response:
    """The JSON error body: a top-level ``message`` string (the only text Argo CD's plugin client
    shows in the ApplicationSet condition) and the structured ``error`` object for everyone else."""
    message = redact(error.message)[:MAX_MESSAGE_CHARS]
    shown = f"{error.reason}: {message}"
    if error.problems and error.problems[0] not in error.message:  # Argo CD shows only this line: name the cause
        shown += f" (first problem: {redact(error.problems[0])})"
    body: dict[str, Any] = {
        "message": shown[:MAX_MESSAGE_CHARS],
        "error": {
            "status": error.status_code,
            "reason": error.reason,
            "message": message,
        },
    }
    if error.problems:
        body["error"]["problems"] = [redact(p) for p in error.problems[:50]]
    response = jsonify(body)
    response.status_code = error.status_code
    response.headers["Cache-Control"] = "no-store"
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def to_api_error(error: Exception) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, FreightyardError):
        return ApiError.from_domain(error)
    if isinstance(error, RequestEntityTooLarge):
        return ApiError(413, "request body too large", reason="PayloadTooLarge")
    if isinstance(error, HTTPException):
        return ApiError(error.code or 500, error.description or error.name)
    log.error("unexpected error while serving a request", exc_info=error)
    return ApiError(500, "internal error (logged by the generator)")


def register(app: Flask) -> None:
    """Install the single handler that turns every exception into a JSON error."""

    def handle(error: Exception) -> Response:
        api_error = to_api_error(error)
        g.error_reason = api_error.reason  # for the error metric
        if api_error.status_code >= 500:
            log.warning("answering %s: %s", api_error.status_code, redact(api_error.message))
        return error_response(api_error)

    app.register_error_handler(Exception, handle)
