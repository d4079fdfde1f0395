"""The render spec: the slice of a pipeline one app of one stage needs to render, as a pipeline document.

The generator hands it to the CMP (parameter ``renderSpec``, plugin env ``RENDER_SPEC``) so the CMP
never needs the pipeline file from the repo copy Argo CD gives it: the copy may be at an older
commit than the pipeline (no skew), and ``--plugin-use-manifest-generate-paths`` sends only a sub-tree.

It is the pipeline format itself (the CMP parses and validates it like any pipeline file), cut down
to the stage's warehouses, one stage with ``direct`` sources and one app, as compact JSON in
URL-safe base64: base64 has no ``$``, so Argo CD's env substitution cannot alter it. Bounded: a spec
over ``MAX_SPEC_BYTES`` (far below Linux's 128 KiB limit on one environment string) is not sent (the
parameter is empty) and the CMP reads the pipeline file from the repo copy as before.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.model import (
    App,
    GitSubscription,
    ImageSubscription,
    Pipeline,
    Stage,
    Subscription,
)

MAX_SPEC_BYTES = 32 * 1024


def render_spec(pipeline: Pipeline, stage: Stage, app: App) -> str:
    """The encoded spec, or "" when it would exceed ``MAX_SPEC_BYTES``."""
    origins = [r.origin for r in stage.requested_freight]
    warehouses = [
        {"name": w.name, "subscriptions": [_subscription(s) for s in w.subscriptions]}
        for w in pipeline.warehouses
        if w.name in origins
    ]
    document = {
        "apiVersion": "freightyard.io/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": pipeline.name},
        "spec": {
            "warehouses": warehouses,
            "stages": [
                {
                    "name": stage.name,
                    "requestedFreight": [{"origin": o, "sources": {"direct": True}} for o in origins],
                    "apps": [_app(app)],
                }
            ],
        },
    }
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    encoded = base64.urlsafe_b64encode(text.encode()).decode()
    return encoded if len(encoded) <= MAX_SPEC_BYTES else ""


def decode_spec(encoded: str) -> str:
    """The pipeline document (JSON, which is YAML) from an encoded spec; ``ConfigError`` when garbled."""
    if len(encoded) > MAX_SPEC_BYTES:
        raise ConfigError([f"ARGOCD_ENV_RENDER_SPEC is over {MAX_SPEC_BYTES} bytes; the generator never sends that"])
    try:
        return base64.urlsafe_b64decode(encoded.strip().encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(["ARGOCD_ENV_RENDER_SPEC is not a render spec from the generator (bad base64)"]) from error


def _subscription(sub: Subscription) -> dict[str, Any]:
    if isinstance(sub, GitSubscription):
        body: dict[str, Any] = {"repoURL": sub.repo_url}
        if sub.branch:
            body["branch"] = sub.branch
        return {"git": body}
    if isinstance(sub, ImageSubscription):
        body = {"repoURL": sub.repo_url}
        for key, value in (("tagFrom", sub.tag_from), ("credentials", sub.credentials_secret)):
            if value:
                body[key] = value
        if sub.insecure:
            body["insecure"] = True
        return {"image": body}
    body = {"repoURL": sub.repo_url, "name": sub.name}
    if sub.credentials_secret:
        body["credentials"] = sub.credentials_secret
    if sub.insecure:
        body["insecure"] = True
    return {"chart": body}


def _app(app: App) -> dict[str, Any]:
    body: dict[str, Any] = {"name": app.name, "path": app.path}
    for key, value in (("repoURL", app.repo_url), ("targetRevision", app.target_revision)):
        if value:
            body[key] = value
    helm: dict[str, Any] = {}
    if app.release_name:
        helm["releaseName"] = app.release_name
    if app.helm_values_files:
        helm["valuesFiles"] = list(app.helm_values_files)
    if app.helm_values:
        helm["images"] = [{"key": v.key, "value": v.value} for v in app.helm_values]
    if helm:
        body["helm"] = helm
    return body
