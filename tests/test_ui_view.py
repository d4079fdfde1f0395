"""The pure pipeline view: candidates per origin (eligible, not and why, up to date), edges, JSON-able."""

from __future__ import annotations

import json

from freightyard.shared.core import view
from freightyard.shared.core.freight import Freight, Image
from freightyard.shared.core.state import Mark, StageState, State
from tests.test_eligibility import NOW, OTHER, pipeline

OLD = Freight("main", images=(Image("reg.example.com/app", "1.0.0", "sha256:" + "a" * 64),))
NEW = Freight("main", images=(Image("reg.example.com/app", "1.1.0", "sha256:" + "c" * 64),))
PIPE = pipeline("""\
    - {name: dev, requestedFreight: [{origin: main, sources: {direct: true}}, {origin: tools, sources: {direct: true}}]}
    - {name: prod, requestedFreight: [{origin: main, sources: {stages: [dev], requiredSoakTime: 1h}}]}
    """)


def state_with_dev_on(freight: Freight) -> State:
    state = State()
    for item in (OLD, OTHER, NEW):
        state.add_freight(item)  # newest first: NEW, OTHER, OLD
    dev = StageState.holding(freight, [], by="user:a", at="2026-06-01T11:59:00Z", stage="dev")
    state.stages["dev"] = dev
    dev.verifications[freight.id] = Mark(at="2026-06-01T11:59:00Z", phase="Succeeded")
    return state


def test_candidates_per_origin_with_reasons() -> None:
    shown = view.pipeline_view(PIPE, state_with_dev_on(OLD), NOW)
    dev, prod = shown["stages"]
    assert set(dev["freight"]) == {"main"} and dev["freight"]["main"]["id"] == OLD.id
    assert dev["candidates"]["main"]["id"] == NEW.id and dev["candidates"]["main"]["eligible"] is True
    assert dev["candidates"]["tools"]["id"] == OTHER.id  # each origin has its own next freight
    assert prod["candidates"]["main"]["id"] == NEW.id and prod["candidates"]["main"]["eligible"] is False
    assert "not verified in dev" in prod["candidates"]["main"]["reason"]
    assert {"from": "dev", "to": "prod", "origin": "main", "soakSeconds": 3600} in shown["edges"]
    json.dumps(shown)  # plain data only


def test_soak_is_the_reason_and_an_up_to_date_stage_has_no_candidate() -> None:
    shown = view.pipeline_view(PIPE, state_with_dev_on(NEW), NOW)
    dev, prod = shown["stages"]
    assert dev["candidates"]["main"] is None  # NEW is the newest and already there
    assert prod["candidates"]["main"]["reason"].startswith("soaking in dev: 59m of 1h left")
    listing = view.freight_view(PIPE, state_with_dev_on(NEW))
    assert [f["id"] for f in listing["freight"]] == [NEW.id, OTHER.id, OLD.id]
    assert listing["freight"][0]["stages"] == ["dev"]
