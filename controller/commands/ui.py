"""``freightyard ui``: the pipeline graph page and the API on a local port, over a local or cluster state."""

from __future__ import annotations

import argparse
import sys
import threading

from freightyard.controller.api import Api, Trust
from freightyard.controller.options import add_common, add_engine_options, engine_settings, load_context
from freightyard.controller.server import Answer, HttpServer, Routes, parse_listen
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.sources.git import default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("ui", help="serve the pipeline graph page and the API locally")
    add_common(parser, output=False)
    add_engine_options(parser)
    parser.add_argument("--listen", default="127.0.0.1:8787", help="HOST:PORT (default 127.0.0.1:8787)")
    parser.add_argument("--by", default=None, help="who acts from the page (default: the current user)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from freightyard.controller.commands.promote import actor
    from freightyard.controller.ui import page

    context = load_context(args)
    try:
        host, port = parse_listen(args.listen)
    except ValueError as error:
        raise ConfigError([str(error)]) from None

    settings = engine_settings(args)

    def engine_for(pipeline: Pipeline) -> Engine:
        return Engine(pipeline, context.store(pipeline), cache_dir=default_cache_dir(), settings=settings)

    api = Api(lambda: context.pipelines, engine_for, Trust(local_user=actor(args)))
    routes = Routes(
        health=lambda: Answer.json(200, {"ok": True}),
        ready=lambda: Answer.json(200, {"ok": True}),
        metrics=lambda: Answer(404, b"", "text/plain"),
        webhook=lambda *_: Answer.json(404, {"message": "no webhooks here"}),
        api=api.handle,
        page=page,
    )
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"warning: anyone who reaches {host}:{port} acts as {actor(args)} (no login here)", file=sys.stderr)
    with HttpServer(routes, host, port) as server:
        print(f"Freightyard UI on http://{host}:{server.port}/ (acting as {actor(args)}; Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return 0
    return 0
