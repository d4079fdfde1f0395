"""kmock's Kubernetes API emulator on a loopback port, for the synchronous official client.

kmock is aiohttp-based: its server lives in an event loop. We run that loop in a daemon thread
(``KubeEmulator``) and point ``freightyard.shared.kube.client.make_api(KubeSettings(host=...))`` at it.
Anything that touches the emulator's state or scripts a reaction goes through ``run()``, which
executes it on the loop thread, so the test thread never races the server.

What kmock's ``KubernetesEmulator`` does natively (kmock 0.8): it stores objects on POST (and
answers 409 when the name already exists), deep-merges PATCH bodies (any content type), deletes
on DELETE, serves GET/list/watch from memory. It does NOT assign ``resourceVersion``/``uid``,
does NOT check ``resourceVersion`` preconditions, does NOT serve PUT (replace) at all (404
"Endpoint Not Found"), and ignores ``labelSelector`` on lists. ``install_api_semantics`` scripts
those four on top, as low-priority reactions (``fallback ** 1``) so a test's own reactions
(a scripted 403, say) still win. Note that kmock records POST/PATCH/DELETE in its object store
*before* any reaction runs, so a scripted error on those verbs does not undo the state change.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import kmock

T = TypeVar("T")


class KubeEmulator:
    """``with KubeEmulator() as kube: make_api(KubeSettings(host=kube.url))``."""

    def __init__(self, *, api_semantics: bool = True) -> None:
        self._api_semantics = api_semantics
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.emulator: Any = None
        self.url = ""

    def __enter__(self) -> KubeEmulator:
        self._thread = threading.Thread(target=self._serve, name="kmock", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("kmock emulator did not start within 10 s")
        if self._failure is not None:
            raise RuntimeError("kmock emulator failed to start") from self._failure
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop thread and return its result."""
        assert self._loop is not None
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as e:  # handed back to the test thread
                future.set_exception(e)

        self._loop.call_soon_threadsafe(call)
        return future.result(timeout=10)

    def object(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (a copy), or None when absent or deleted."""

        def fetch() -> dict[str, Any] | None:
            key = (kmock.resource(resource), namespace, name)
            if key not in self.emulator.objects or self.emulator.objects[key].deleted:
                return None
            return dict(self.emulator.objects[key].raw)

        return self.run(fetch)

    def put_object(self, resource: str, body: dict[str, Any]) -> None:
        """Seed an object directly (with a resourceVersion), bypassing the API."""
        meta = body.setdefault("metadata", {})
        meta.setdefault("resourceVersion", "1")

        def seed() -> None:
            self.emulator.objects[kmock.resource(resource), meta.get("namespace"), meta["name"]] = body

        self.run(seed)

    def requests(self) -> list[tuple[str, str, str]]:
        """(method, path, content type) of every request served so far."""
        return self.run(
            lambda: [
                (str(r.method.value), r.url.path, r.headers.get("Content-Type", "")) for r in self.emulator._requests
            ]
        )

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:
            self._failure = e
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator, host="127.0.0.1") as server:
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            if self._api_semantics:
                install_api_semantics(emulator)
            self._ready.set()
            await self._stop.wait()


def install_api_semantics(emulator: Any) -> None:
    """Script resourceVersion, PUT-with-precondition and label selectors onto a kmock emulator."""
    counter = itertools.count(1)
    semantics = emulator.fallback**1  # above kmock's own fallbacks, below any test's reactions

    def stamp(raw: dict[str, Any]) -> dict[str, Any]:
        meta = dict(raw.get("metadata") or {})
        number = next(counter)
        meta["resourceVersion"] = str(number)
        meta.setdefault("uid", f"uid-{number}")
        meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
        raw["metadata"] = meta
        return raw

    def stamp_stored(obj: Any) -> dict[str, Any]:
        # kmock's ObjectVersion hands out copies of nested dicts: assign the top-level key instead.
        obj.last["metadata"] = stamp(obj.raw)["metadata"]
        return dict(obj.raw)

    def key(request: Any, name: str | None = None) -> tuple[Any, Any, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        meta = data.get("metadata") or {}
        return request.resource, request.namespace or meta.get("namespace"), name or request.name or meta.get("name")

    def on_create(request: Any) -> dict[str, Any]:
        # kmock stored the body (or answered 409 on a duplicate name) before we run; add the version.
        return stamp_stored(emulator.objects[key(request)])

    def on_patch(request: Any) -> dict[str, Any]:
        # kmock deep-merged the patch already (404 when missing); a real server bumps the version.
        return stamp_stored(emulator.objects[key(request)])

    def on_replace(request: Any) -> dict[str, Any]:
        object_key = key(request)
        if object_key not in emulator.objects or emulator.objects[object_key].deleted:
            raise kmock.KubernetesObjectNotFoundError()
        obj = emulator.objects[object_key]
        wanted = (request.data.get("metadata") or {}).get("resourceVersion")
        current = (obj.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current:  # the optimistic-concurrency precondition of a real API server
            raise kmock.KubernetesError(
                status=409,
                reason="Conflict",
                message=f'Operation cannot be fulfilled on {request.resource.plural} "{request.name}": '
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
                details={"name": request.name, "kind": request.resource.plural},
            )
        body = dict(request.data)
        body["metadata"] = {**(body.get("metadata") or {}), "uid": (obj.get("metadata") or {}).get("uid")}
        obj.create(stamp(body))
        return dict(obj.raw)

    def on_list(request: Any) -> dict[str, Any]:
        selector = dict(part.split("=", 1) for part in request.params.get("labelSelector", "").split(",") if part)
        items = []
        for (resource, namespace, _), obj in emulator.objects.items():
            if resource != request.resource or obj.deleted:
                continue
            if request.namespace is not None and namespace != request.namespace:
                continue
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                items.append(dict(obj.raw))
        return {"metadata": {"resourceVersion": str(next(counter))}, "items": items}

    semantics[kmock.action.CREATE] << on_create
    semantics[kmock.action.UPDATE] << on_patch
    semantics[kmock.method.PUT, is_named] << on_replace
    semantics[kmock.action.LIST] << on_list


def is_named(request: Any) -> bool:
    return request.resource is not None and request.name is not None
