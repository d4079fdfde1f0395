"""Outside documents decode into our own errors (the generator catches no built-in exception types)."""

from __future__ import annotations

import pytest

from freightyard.generator.config import Settings
from freightyard.shared.core.documents import decode_state, load_json
from freightyard.shared.core.errors import ConfigError, DocumentError
from freightyard.shared.core.state import StateError


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
def test_bad_json_is_a_document_error_naming_what(raw: bytes) -> None:
    with pytest.raises(DocumentError, match=r"^request body is not JSON \("):
        load_json(raw, "request body")


def test_good_json_decodes() -> None:
    assert load_json(b'{"a": [1]}', "x") == {"a": [1]}


def test_a_hand_edited_state_document_is_a_state_error_naming_the_key() -> None:
    document = {"metadata": {"resourceVersion": "9"}, "data": {"freight.yaml": "- 3\n- [unexpected]\n"}}
    with pytest.raises(StateError, match=r"^state key freight.yaml has the wrong shape .*fix or restore"):
        decode_state(document, "state of pipeline 'shop'")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"MAX_BODY_BYTES": " 2048 ", "KUBE_TIMEOUT_S": "2.5"}, (2048, 2.5)),
        ({"MAX_BODY_BYTES": "+4096", "KUBE_TIMEOUT_S": "1e1"}, (4096, 10.0)),
        ({"MAX_BODY_BYTES": "1.5", "KUBE_TIMEOUT_S": "soon"}, None),
    ],
)
def test_generator_numbers_are_checked_without_exceptions(
    values: dict[str, str], expected: tuple[int, float] | None
) -> None:
    base = {"TOKEN": "t" * 32, "PIPELINES": "pipelines"}
    if expected is None:
        with pytest.raises(ConfigError) as raised:
            Settings.from_mapping({**base, **values})
        assert [p.split("=")[0] for p in raised.value.problems] == [
            "FREIGHTYARD_MAX_BODY_BYTES",
            "FREIGHTYARD_KUBE_TIMEOUT_S",
        ]
        return
    settings = Settings.from_mapping({**base, **values})
    assert (settings.max_body_bytes, settings.kube_timeout_s) == expected
