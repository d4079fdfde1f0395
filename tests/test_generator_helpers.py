"""The tiny ApplicationSet template renderer the generator tests use renders the way Argo CD does."""

from __future__ import annotations

import pytest

from tests.helpers.generator_world import fast_render, go_render

# --- tests of the renderer itself ------------------------------------------------------------------


def test_go_render_walks_nested_maps_and_index() -> None:
    params = {"a": {"b": "x"}, "a.b": "y"}
    assert go_render('{{.a.b}}-{{index . "a.b"}}', params) == "x-y"


def test_go_render_missing_key_is_an_error() -> None:
    with pytest.raises(KeyError):
        go_render("{{.nope}}", {"a": "b"})


def test_fast_render_flattens_like_argo_and_leaves_unknown_keys() -> None:
    assert fast_render("{{a.b}} {{c}} {{zz}}", {"a": {"b": "x"}, "c": "y"}) == "x y {{zz}}"
