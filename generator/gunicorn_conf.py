"""Gunicorn settings for the generator.

``gunicorn -c python:freightyard.generator.gunicorn_conf 'freightyard.generator.app:create_app()'``.

Environment: ``FREIGHTYARD_BIND`` (default ``0.0.0.0:8080``), ``FREIGHTYARD_WORKERS`` (default 2),
``FREIGHTYARD_THREADS`` (default 4: state reads wait on the Kubernetes API), ``FREIGHTYARD_LOG_LEVEL``
(default ``info``). Requests from the ApplicationSet controller time out after 30 s on its side, so
a worker stuck longer than that is restarted.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from prometheus_client import multiprocess

bind = os.environ.get("FREIGHTYARD_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("FREIGHTYARD_WORKERS", "2"))
threads = int(os.environ.get("FREIGHTYARD_THREADS", "4"))
worker_class = "freightyard.generator.worker.HeadFirstWorker"  # gthread, slow clients kept off the threads
timeout = 30
graceful_timeout = 20
keepalive = 75  # the controller reuses connections; outlive its idle timeout
limit_request_line = 4096
limit_request_fields = 50
limit_request_field_size = 8190
SHM = "/dev/shm"  # noqa: S108 - a RAM disk for worker heartbeats, not a temporary file of ours
worker_tmp_dir = os.environ.get("FREIGHTYARD_WORKER_TMP_DIR") or (SHM if os.path.isdir(SHM) else None)
accesslog = os.environ.get("FREIGHTYARD_ACCESS_LOG") or None  # "-" for stdout
loglevel = os.environ.get("FREIGHTYARD_LOG_LEVEL", "info")


def on_starting(server: Any) -> None:
    """The entry point decides logging: our ``freightyard.*`` loggers go to stderr, like gunicorn's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("freightyard")
    logger.addHandler(handler)
    logger.setLevel(loglevel.upper())
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # start clean: values of a previous run would be added to ours
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))


def post_worker_init(worker: Any) -> None:
    """Warm each worker (pipelines parsed, state decoded, answers built) before it takes requests."""
    from freightyard.generator.app import warm

    warm(worker.wsgi)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's metric files (multiprocess mode only)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
