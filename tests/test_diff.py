"""``freightyard diff``: a unified diff of rendered manifests, blind to the freight-id annotation."""

from __future__ import annotations

from freightyard.controller.commands.diff import unified

OLD = b"""metadata:
  annotations:
    freightyard.io/freight: "1111111111111111111111111111111111111111"
  name: web
spec:
  image: r/web:1.0@sha256:aa
"""


def test_only_real_changes_show() -> None:
    same = OLD.replace(b"1" * 40, b"2" * 40)
    assert unified(OLD, same, "a", "b") == ""  # another freight, same objects: a no-op
    changed = same.replace(b"1.0@sha256:aa", b"1.1@sha256:bb")
    text = unified(OLD, changed, "prod/web (old)", "prod/web (new)")
    assert text.startswith("--- prod/web (old)\n+++ prod/web (new)\n")
    assert "-  image: r/web:1.0@sha256:aa\n+  image: r/web:1.1@sha256:bb\n" in text
    assert "freightyard.io/freight" not in text


def test_against_nothing_everything_is_new() -> None:
    text = unified(b"", OLD, "dev/web (nothing)", "dev/web (new)")
    assert "+  name: web\n" in text
