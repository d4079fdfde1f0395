"""HTTP routes: the ApplicationSet plugin endpoint, health, readiness and metrics."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from freightyard.generator.context import Context
from freightyard.generator.errors import ApiError
from freightyard.generator.request import parse_body

log = logging.getLogger("freightyard.generator")
GETPARAMS = "/api/v1/getparams.execute"

bp = Blueprint("generator", __name__)


def ctx() -> Context:
    context: Context = current_app.extensions["freightyard"]
    return context


@bp.post(GETPARAMS)
def getparams() -> Response:
    context = ctx()
    context.tokens.check(request.headers.get("Authorization"))
    length = request.content_length
    if length is not None and length > context.settings.max_body_bytes:
        raise ApiError(413, f"request body is {length} bytes (at most {context.settings.max_body_bytes})")
    raw = request.get_data(cache=False)  # the stream is cut at max + 1 bytes (MAX_CONTENT_LENGTH)
    if len(raw) > context.settings.max_body_bytes:  # a chunked body has no Content-Length to check first
        raise ApiError(413, f"request body exceeds {context.settings.max_body_bytes} bytes")
    parsed = parse_body(raw)
    body, count = context.service.answer(parsed)
    context.metrics.parameter_sets.labels(parsed.pipeline).inc(count)
    log.debug(
        "getparams for ApplicationSet %r, pipeline %r: %d parameter sets",
        parsed.application_set,
        parsed.pipeline,
        count,
    )
    return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    context = ctx()
    context.tokens.tokens()
    found = context.catalog.check()
    return jsonify({"status": "ready", **found})


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = ctx().metrics.exposition()
    return Response(body, content_type=content_type)


def install_metrics_hooks(app: Flask) -> None:
    """Count and time every request by its route (not its raw path: bounded label values)."""

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        context: Context = app.extensions["freightyard"]
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        context.metrics.requests.labels(endpoint, str(response.status_code)).inc()
        context.metrics.latency.labels(endpoint).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        if response.status_code >= 400:
            context.metrics.errors.labels(endpoint, g.get("error_reason", str(response.status_code))).inc()
        return response
