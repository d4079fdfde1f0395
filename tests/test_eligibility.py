"""Eligibility: direct, OneOf, All, soak, approval, and direct+upstream sources on one stage."""

from __future__ import annotations

import datetime as dt
import textwrap

from freightyard.shared.core import eligibility
from freightyard.shared.core.freight import Freight, Image
from freightyard.shared.core.gates import Approval
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import Mark, State, format_time

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
FREIGHT = Freight("main", images=(Image("reg.example.com/app", "1.0.0", "sha256:" + "a" * 64),))
OTHER = Freight("tools", images=(Image("reg.example.com/tool", "1.0.0", "sha256:" + "b" * 64),))


def pipeline(stages: str) -> Pipeline:
    text = textwrap.dedent("""\
        apiVersion: freightyard.io/v1alpha1
        kind: Pipeline
        metadata: {name: p}
        spec:
          warehouses:
          - {name: main, subscriptions: [{image: {repoURL: reg.example.com/app}}]}
          - {name: tools, subscriptions: [{image: {repoURL: reg.example.com/tool}}]}
          stages:
        """) + textwrap.indent(textwrap.dedent(stages), "  ")
    return parse_pipelines(text)[0]


PIPE = pipeline("""\
    - {name: dev, requestedFreight: [{origin: main, sources: {direct: true}}]}
    - {name: qa, requestedFreight: [{origin: main, sources: {direct: true}}]}
    - {name: hotfix, requestedFreight: [{origin: main, sources: {direct: true}}]}
    - {name: staging, requestedFreight: [{origin: main, sources: {stages: [dev, qa], availability: All}}]}
    - {name: prod, requestedFreight: [{origin: main, sources: {stages: [staging, hotfix], requiredSoakTime: 1h}}]}
    - {name: canary, requestedFreight: [{origin: main, sources: {direct: true, stages: [dev]}}]}
    - {name: edge, requestedFreight: [{origin: main, sources: {stages: [dev]}}]}
    """)


def verified(state: State, stage: str, minutes_ago: int, phase: str = "Succeeded") -> None:
    state.stage(stage).verifications[FREIGHT.id] = Mark(
        at=format_time(NOW - dt.timedelta(minutes=minutes_ago)), phase=phase
    )


def check(state: State, stage: str, freight: Freight = FREIGHT) -> eligibility.Verdict:
    return eligibility.check(PIPE, state, freight, stage, NOW)


def test_direct_source_always_eligible() -> None:
    verdict = check(State(), "dev")
    assert verdict.eligible and verdict.via == "direct"


def test_origin_not_requested() -> None:
    verdict = check(State(), "dev", OTHER)
    assert not verdict.eligible
    assert verdict.reason == "stage dev does not take freight from warehouse tools (it requests: main)"


def test_upstream_must_verify_first_and_reason_says_what_to_do() -> None:
    verdict = check(State(), "edge")
    assert not verdict.eligible
    assert verdict.reason == "not verified in dev; approve it for edge or verify it in dev first"
    state = State()
    verified(state, "dev", 1)
    assert check(state, "edge").eligible


def test_failed_or_pending_verification_blocks() -> None:
    state = State()
    verified(state, "dev", 1, phase="Failed")
    assert "verification in dev is failed" in check(state, "edge").reason
    verified(state, "dev", 1, phase="Pending")
    assert not check(state, "edge").eligible


def test_all_needs_every_upstream() -> None:
    state = State()
    verified(state, "dev", 1)
    verdict = check(state, "staging")
    assert not verdict.eligible and "not verified in qa" in verdict.reason and "dev and qa" in verdict.reason
    verified(state, "qa", 1)
    assert check(state, "staging").eligible


def test_one_of_with_soak() -> None:
    state = State()
    verified(state, "staging", 20)
    verdict = check(state, "prod")
    assert not verdict.eligible
    assert "soaking in staging: 40m of 1h left" in verdict.reason
    verified(state, "hotfix", 61)
    verdict = check(state, "prod")
    assert verdict.eligible and verdict.via == "hotfix"


def test_approval_bypasses_upstream_and_soak() -> None:
    state = State()
    state.stage("prod").gates.approve(FREIGHT.id, Approval(by="user:oncall", at=format_time(NOW)))
    verdict = check(state, "prod")
    assert verdict.eligible and verdict.via == "approval" and "user:oncall" in verdict.reason


def test_direct_and_upstream_on_one_stage() -> None:
    assert check(State(), "canary").eligible


def test_skipped_verification_counts_as_verified() -> None:
    state = State()
    verified(state, "dev", 1, phase="Skipped")
    assert check(state, "edge").eligible
