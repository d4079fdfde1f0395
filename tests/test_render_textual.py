"""Annotating kustomize output as text gives the same objects as a YAML round trip, or declines."""

from __future__ import annotations

import yaml

from shared.render.textual import annotate_stream

ANNOTATIONS = {"freightyard.io/freight": "1234567890123456789012345678901234567890", "freightyard.io/stage": "dev"}
STREAM = b"""apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: dev
spec:
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    team: web
    note: |
      multi
      line
  labels:
    app: web
  name: web
spec:
  template:
    metadata:
      labels:
        app: web
"""


def test_adds_annotations_to_each_objects_own_metadata_only() -> None:
    out = annotate_stream(STREAM, ANNOTATIONS)
    assert out is not None
    service, deployment = yaml.safe_load_all(out)
    assert service["metadata"]["annotations"] == ANNOTATIONS  # an all-digit id stays a string
    assert deployment["metadata"]["annotations"] == {"team": "web", "note": "multi\nline\n", **ANNOTATIONS}
    assert "annotations" not in deployment["spec"]["template"]["metadata"]
    assert service["spec"] == {"ports": [{"port": 80}]}


def test_declines_when_a_key_already_exists_or_layout_is_unexpected() -> None:
    clash = STREAM.replace(b"    team: web\n", b"    freightyard.io/stage: other\n")
    assert annotate_stream(clash, ANNOTATIONS) is None
    assert annotate_stream(b"kind: X\nspec: {}\n", ANNOTATIONS) is None
    late = b"apiVersion: v1\nkind: X\nmetadata:\n  name: a\n  annotations:\n    x: y\n"
    assert annotate_stream(late, ANNOTATIONS) is None


def test_nothing_to_add_is_identity() -> None:
    assert annotate_stream(STREAM, {}) == STREAM
