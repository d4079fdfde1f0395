"""The versioned HTTP API (``/api/v1``) behind the Argo CD extension and the standalone page.

Who may act is decided by Argo CD: its proxy extension authenticates the user, checks
``extensions, invoke, freightyard`` and the Application's RBAC, then forwards the request with its
identity headers and the shared secret header its ``extension.config`` injects (from a Secret).
Identity headers are believed only on requests carrying that secret; every other request is 401
(no secret) or 403 (wrong secret). The local ``freightyard ui`` has no proxy: its identity is ``--by``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from freightyard.controller.server import Answer
from freightyard.shared.core import view
from freightyard.shared.core.errors import FreightyardError, NotEligibleError, NotFoundError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine

log = logging.getLogger("freightyard.api")
PREFIX = "/api/v1/pipelines"
SECRET_HEADER = "freightyard-proxy-secret"  # noqa: S105 - a header name, not a secret; set by extension.config from a Secret (manifests/ui)
USER_HEADER = "argocd-username"  # Argo CD's proxy extension headers (server/extension/extension.go)
GROUPS_HEADER = "argocd-user-groups"
APP_HEADER = "argocd-application-name"  # "<namespace>:<name>"
PROJECT_HEADER = "argocd-project-name"
MAX_FIELD = 1024
_ACTION = re.compile(r"^/([^/]+)/stages/([^/]+)/(promotions|approvals)$")


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()
    application: str = ""
    project: str = ""

    @property
    def actor(self) -> str:
        return self.user


@dataclass(frozen=True)
class Trust:
    """How a request proves who sent it: Argo CD's proxy (a shared secret) or the local user."""

    proxy_secret: str = ""  # non-empty: requests must come through Argo CD's proxy extension
    local_user: str = ""  # non-empty: the standalone page, everything acts as this user

    def __repr__(self) -> str:
        return f"Trust(proxy_secret={'***' if self.proxy_secret else ''!r}, local_user={self.local_user!r})"

    def identify(self, headers: dict[str, str]) -> Identity | Answer:
        if self.local_user:
            return Identity(self.local_user)
        if not self.proxy_secret:
            return _error(403, "the API is disabled: set --ui-proxy-secret (FREIGHTYARD_UI_PROXY_SECRET)")
        given = headers.get(SECRET_HEADER, "")
        if not given:
            return _error(401, f"missing {SECRET_HEADER} header: call the API through Argo CD's proxy extension")
        if not hmac.compare_digest(given.encode(), self.proxy_secret.encode()):
            return _error(403, f"wrong {SECRET_HEADER} header: check the extension.config Secret")
        user = headers.get(USER_HEADER, "").strip()[:MAX_FIELD]
        if not user:
            return _error(401, f"no {USER_HEADER} header: Argo CD forwarded no logged-in user")
        groups = tuple(g.strip() for g in headers.get(GROUPS_HEADER, "")[:MAX_FIELD].split(",") if g.strip())
        return Identity(
            f"argocd:{user}",
            groups,
            headers.get(APP_HEADER, "")[:MAX_FIELD],
            headers.get(PROJECT_HEADER, "")[:MAX_FIELD],
        )


@dataclass
class Api:
    """``handle(method, path, headers, body)`` for the paths under ``/api/v1``."""

    pipelines: Callable[[], list[Pipeline]]
    engine_for: Callable[[Pipeline], Engine]
    trust: Trust
    acted: Callable[[str, str, bool], None] | None = None  # (pipeline, stage, promoted): the controller reacts

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        identity = self.trust.identify({k.lower(): v for k, v in headers.items()})
        if isinstance(identity, Answer):
            return identity
        try:
            return self._route(method, path, identity, body)
        except NotEligibleError as error:
            return _error(409, error.message)
        except NotFoundError as error:
            return _error(404, error.message)
        except FreightyardError as error:
            return _error(502 if error.temporary else 422, error.message)

    def _route(self, method: str, path: str, identity: Identity, body: bytes) -> Answer:
        if not path.startswith(PREFIX):
            return _error(404, f"no route {path[:100]}")
        rest = path[len(PREFIX) :].rstrip("/")
        if method == "GET":
            if not rest:
                pipelines = self.pipelines()
                return Answer.json(
                    200,
                    {
                        "apiVersion": view.API_VERSION,
                        "pipelines": [view.pipeline_summary(p, self.engine_for(p).state()) for p in pipelines],
                    },
                )
            parts = rest.strip("/").split("/")
            if len(parts) == 1:
                engine = self.engine_for(self._pipeline(parts[0]))
                return Answer.json(200, view.pipeline_view(engine.pipeline, engine.state(), engine.clock()))
            if len(parts) == 2 and parts[1] == "freight":
                engine = self.engine_for(self._pipeline(parts[0]))
                return Answer.json(200, view.freight_view(engine.pipeline, engine.state()))
            return _error(404, f"no route {path[:100]}")
        if method == "POST":
            match = _ACTION.match(rest)
            if not match:
                return _error(404, f"no route {path[:100]}")
            return self._act(match.group(1), match.group(2), match.group(3), identity, body)
        return _error(405, f"{method} is not allowed on {path[:100]}")

    def _act(self, name: str, stage: str, action: str, identity: Identity, body: bytes) -> Answer:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _error(400, 'body: expected JSON like {"freight": "ID or alias"}')
        freight = data.get("freight") if isinstance(data, dict) else None
        if not isinstance(freight, str) or not freight.strip() or len(freight) > MAX_FIELD:
            return _error(400, 'body.freight: give the freight id, id prefix or alias, e.g. {"freight": "a1b2c3d"}')
        reason = data.get("reason", "")
        if not isinstance(reason, str) or len(reason) > MAX_FIELD:
            return _error(400, f"body.reason: a text of at most {MAX_FIELD} characters")
        engine = self.engine_for(self._pipeline(name))
        engine.pipeline.stage(stage)
        via = f" via {identity.application}" if identity.application else ""
        log.info("%s %s into %s by %s%s", action, freight[:64], stage, identity.actor, via, extra={"pipeline": name})
        if action == "approvals":
            approved = engine.approve(freight, stage, identity.actor, groups=identity.groups, reason=reason.strip())
            if self.acted is not None:
                self.acted(name, stage, False)
            return Answer.json(
                201, {"freight": approved.id, "alias": approved.alias, "stage": stage, "by": identity.actor}
            )
        record = engine.promote(freight, stage, identity.actor, hold=True)
        if self.acted is not None:
            self.acted(name, stage, True)
        return Answer.json(201, record.to_dict())

    def _pipeline(self, name: str) -> Pipeline:
        for pipeline in self.pipelines():
            if pipeline.name == name:
                return pipeline
        raise NotFoundError(f"no pipeline {name[:100]!r} (see GET {PREFIX})")


def _error(status: int, message: str) -> Answer:
    return Answer.json(status, {"message": message})
