"""Freight identity: the documented canonical form, aliases, JSON round trips and id checks."""

from __future__ import annotations

import hashlib

import pytest

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.freight import Chart, Commit, Freight, Image, normalize_repo

COMMIT = Commit("https://git.example.com/org/mono.git", "3fbcee5a1f1d52d2d1a8d8a66b4c1f0c5e4b0c11", branch="main")
IMAGE = Image("registry.example.com/org/guestbook", "1.4.2", "sha256:" + "ab" * 32)
CHART = Chart("oci://registry.example.com/charts", "guestbook", "2.1.0")


def test_id_is_sha1_of_the_documented_canonical_form() -> None:
    freight = Freight("main", commits=(COMMIT,), images=(IMAGE,), charts=(CHART,))
    parts = sorted(
        [
            "https://git.example.com/org/mono.git:3fbcee5a1f1d52d2d1a8d8a66b4c1f0c5e4b0c11",
            "registry.example.com/org/guestbook:1.4.2@sha256:" + "ab" * 32,
            "oci://registry.example.com/charts/guestbook:2.1.0",
        ]
    )
    expected = hashlib.sha1(("Warehouse/main:" + "|".join(parts)).encode(), usedforsecurity=False).hexdigest()
    assert freight.id == expected


def test_same_artifacts_same_id_regardless_of_order_and_metadata() -> None:
    a = Freight("main", commits=(COMMIT,), images=(IMAGE,), created_at="2026-01-01T00:00:00Z")
    b = Freight("main", images=(IMAGE,), commits=(Commit(COMMIT.repo_url, COMMIT.id, message="other text"),))
    assert a.id == b.id
    assert a.alias == b.alias


@pytest.mark.parametrize(
    "changed",
    [
        Freight("main", images=(Image(IMAGE.repo_url, "1.4.3", IMAGE.digest),)),  # tag moved to same digest
        Freight("main", images=(Image(IMAGE.repo_url, IMAGE.tag, "sha256:" + "cd" * 32),)),  # tag moved
        Freight("other", images=(IMAGE,)),  # another origin
        Freight("main", commits=(Commit(COMMIT.repo_url, COMMIT.id, tag="v1.0.0"),)),  # chosen by tag
    ],
)
def test_any_artifact_change_is_new_freight(changed: Freight) -> None:
    assert changed.id != Freight("main", images=(IMAGE,)).id
    assert changed.id != Freight("main", commits=(COMMIT,)).id


def test_json_round_trip_and_verification() -> None:
    freight = Freight("main", commits=(COMMIT,), images=(IMAGE,), charts=(CHART,), created_at="2026-01-01T00:00:00Z")
    again = Freight.from_json(freight.to_json())
    assert again == freight and again.id == freight.id
    assert '"alias"' in freight.to_json() and " " not in freight.to_json()


def test_tampered_freight_is_rejected() -> None:
    data = Freight("main", images=(IMAGE,)).to_dict()
    data["images"][0]["digest"] = "sha256:" + "ee" * 32
    with pytest.raises(FreightyardError, match="does not match its artifacts"):
        Freight.from_dict(data)


def test_alias_is_adjective_animal_and_deterministic() -> None:
    freight = Freight("main", images=(IMAGE,))
    adjective, animal = freight.alias.split("-")
    assert adjective and animal
    assert Freight("main", images=(IMAGE,)).alias == freight.alias


def test_repo_urls_compare_like_users_think() -> None:
    assert normalize_repo("https://Git.Example.com/org/x.git/") == normalize_repo("git.example.com/org/x")
    assert Freight("main", images=(IMAGE,)).image_from("https://registry.example.com/org/guestbook") == IMAGE
