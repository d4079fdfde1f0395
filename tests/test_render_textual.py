"""Annotating kustomize output as text gives the same objects as a YAML round trip, or declines."""

from __future__ import annotations

import yaml

from freightyard.shared.core.freight import Image
from freightyard.shared.render.objects import load_objects, pin_images
from freightyard.shared.render.textual import annotate_stream, pin_images_stream

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


IMAGE = Image("registry.example.com:5000/org/web", "1.4.0", "sha256:" + "a" * 64)
PODS = b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - args:
        - --port=80
        image: registry.example.com:5000/org/web:1.0
        name: web
      - image: "registry.example.com:5000/org/web@sha256:0000"
        name: sidecar
      - image: docker.io/library/busybox:1.36
        name: other
      initContainers:
      - image: registry.example.com:5000/org/web
        name: init
---
apiVersion: example.com/v1
kind: Database
metadata:
  name: db
spec:
  image: registry.example.com:5000/org/web:1.0
"""


def test_pins_container_images_by_digest_and_leaves_other_fields_alone() -> None:
    out = pin_images_stream(PODS, [IMAGE])
    assert out is not None
    deployment, database = yaml.safe_load_all(out)
    pod = deployment["spec"]["template"]["spec"]
    expected = "registry.example.com:5000/org/web:1.4.0@sha256:" + "a" * 64
    assert [c["image"] for c in pod["containers"]] == [expected, expected, "docker.io/library/busybox:1.36"]
    assert pod["initContainers"][0]["image"] == expected
    assert database["spec"]["image"] == "registry.example.com:5000/org/web:1.0"  # not a container


def test_text_pinning_matches_the_yaml_round_trip() -> None:
    out = pin_images_stream(PODS, [IMAGE])
    assert out is not None
    objects = load_objects(PODS, "test")
    pin_images(objects, [IMAGE])
    assert list(yaml.safe_load_all(out)) == objects


def test_declines_when_a_block_scalar_could_hide_a_pod_spec() -> None:
    config = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  pod.yaml: |\n    containers:\n"
        b"    - image: registry.example.com:5000/org/web:1.0\n"
    )
    assert pin_images_stream(config, [IMAGE]) is None
    assert pin_images_stream(config, []) == config


def test_image_only_as_a_key_of_its_own_line_is_pinned() -> None:
    stream = (
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n"
        b"      containers:\n      - args:\n        - 'image: registry.example.com:5000/org/web:1.0'\n"
        b"        baseimage: registry.example.com:5000/org/web:1.0\n"
        b"        image: registry.example.com:5000/org/web:1.0\n        name: web\n"
    )
    out = pin_images_stream(stream, [IMAGE])
    assert out is not None
    (container,) = yaml.safe_load(out)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com:5000/org/web:1.4.0@sha256:" + "a" * 64
    assert container["args"] == ["image: registry.example.com:5000/org/web:1.0"]
    assert container["baseimage"] == "registry.example.com:5000/org/web:1.0"
