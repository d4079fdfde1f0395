"""Shard mailboxes: wakes are appended with a sequence, expire, are capped, and damage wakes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from freightyard.controller import wakes

pytestmark = pytest.mark.unit
T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def test_appended_numbers_expires_and_caps() -> None:
    box: list[wakes.Wake] = []
    for i in range(wakes.MAX_WAKES + 5):
        box = wakes.appended(box, ["https://git.example.com/a.git"], [(f"p{i}", "main")], T0)
    assert len(box) == wakes.MAX_WAKES and box[-1].seq == wakes.MAX_WAKES + 5
    later = T0 + dt.timedelta(seconds=wakes.WAKE_TTL_S + 1)
    box = wakes.appended(box, [], [("late", "main")], later)
    assert [w.targets for w in box] == [(("late", "main"),)]  # the expired ones are gone
    assert box[0].seq == wakes.MAX_WAKES + 6  # numbering continues


def test_decode_survives_damage() -> None:
    good = wakes.appended([], ["r"], [("p", "w")], T0)[0].to_dict()
    configmap = {"data": {wakes.WAKES_KEY: json.dumps([good, {"seq": "x"}, "junk", {"at": "t"}])}}
    assert [w.targets for w in wakes.decode(configmap)] == [(("p", "w"),)]
    assert wakes.decode({"data": {wakes.WAKES_KEY: "{not json"}}) == []
    assert wakes.decode(None) == []


def test_mailbox_names_are_valid_and_distinct() -> None:
    names = {wakes.mailbox_name("freightyard-controller", f"pod-{i}") for i in range(100)}
    assert len(names) == 100 and all(len(n) <= 63 and n.startswith("freightyard-controller-wake-") for n in names)
