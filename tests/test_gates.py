"""Gates in the pure core and the engine: N-of-M approvals, promotion windows around DST in two zones,
window overrides, auto-promotion waiting for a window, failure holds, and re-verification that un-verifies."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from freightyard.controller.runtime import autopromote
from freightyard.shared.core import approvals, windows
from freightyard.shared.core.errors import ConfigError, NotEligibleError
from freightyard.shared.core.freight import Freight, Image
from freightyard.shared.core.gates import Approval, StageGates
from freightyard.shared.core.model import ApprovalRule, Pipeline, Window
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import StageState, state_from_document
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.stores.file import FileStore
from freightyard.shared.verification.runner import verify

RULE = ApprovalRule(required=2, groups=("sre", "release"), separate_from_promoter=True)
FREEZE = Window("deny", "0 18 * * 5", 63 * 3600, "Europe/Berlin")
NY_HOURS = Window("allow", "0 9 * * 1-5", 8 * 3600, "America/New_York")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def approval(by: str, *groups: str, at: str = "2026-12-03T10:00:00Z") -> Approval:
    return Approval(by=by, at=at, groups=groups, reason="looks good")


def test_two_of_m_counts_distinct_people_in_the_groups() -> None:
    given = [approval("alice", "sre"), approval("alice", "sre", at="2026-12-03T11:00:00Z"), approval("carol", "dev")]
    tally = approvals.tally(RULE, given, promoter="dave")
    assert [a.by for a in tally.counted] == ["alice"] and not tally.met and tally.fraction() == "1/2 approvals"
    assert approvals.refusal("prod", RULE, tally) == (
        "prod needs 2 approvals from sre or release; has 1 (alice, 2026-12-03); "
        "not counted: carol is not in sre or release"
    )
    given.append(approval("bob", "release"))
    assert approvals.tally(RULE, given, promoter="dave").met
    tally = approvals.tally(RULE, given, promoter="bob")  # separateFromPromoter: bob's own approval is out
    assert not tally.met and "bob promotes, so their own approval does not count" in approvals.refusal(
        "prod", RULE, tally
    )
    assert approvals.tally(ApprovalRule(required=2), given, promoter="bob").met  # no groups, promoter may approve


def test_the_same_person_approving_again_replaces_their_approval() -> None:
    gates = StageGates()
    gates.approve("f1", approval("alice", "sre"))
    gates.approve("f1", Approval(by="alice", at="2026-12-04T09:00:00Z", groups=("sre",), reason="re-checked"))
    assert [(a.by, a.reason) for a in gates.approvals["f1"]] == [("alice", "re-checked")]


def test_deny_window_across_the_october_dst_end_in_berlin_counts_elapsed_hours() -> None:
    # Friday 2026-10-23 18:00 CEST (16:00 UTC) + 63 h of elapsed time = Monday 08:00 CET (07:00 UTC), as Argo CD does
    assert windows.gate((FREEZE,), utc("2026-10-23T15:59:00")).open
    closed = windows.gate((FREEZE,), utc("2026-10-23T16:00:00"))
    assert not closed.open and closed.until == utc("2026-10-26T07:00:00")
    assert closed.reason == 'inside deny window "0 18 * * 5" (Europe/Berlin) until 2026-10-26 08:00 CET (07:00 UTC)'
    assert not windows.gate((FREEZE,), utc("2026-10-26T06:59:59")).open
    assert windows.gate((FREEZE,), utc("2026-10-26T07:00:00")).open
    # in winter the same freeze starts at 17:00 UTC
    assert windows.gate((FREEZE,), utc("2026-10-30T16:30:00")).open
    assert not windows.gate((FREEZE,), utc("2026-10-30T17:00:00")).open


def test_allow_window_across_the_march_dst_start_in_new_york() -> None:
    # 09:00 local is 14:00 UTC on Friday 2026-03-06 (EST) and 13:00 UTC on Monday 2026-03-09 (EDT)
    friday = windows.gate((NY_HOURS,), utc("2026-03-06T13:30:00"))
    assert not friday.open and friday.until == utc("2026-03-06T14:00:00")
    assert friday.reason == "outside every allow window; it next opens at 2026-03-06 09:00 EST (14:00 UTC)"
    assert windows.gate((NY_HOURS,), utc("2026-03-06T21:59:00")).open
    monday = windows.gate((NY_HOURS,), utc("2026-03-09T13:30:00"))
    assert monday.open and monday.until == utc("2026-03-09T21:00:00")
    weekend = windows.gate((NY_HOURS,), utc("2026-03-07T15:00:00"))
    assert not weekend.open and weekend.until == utc("2026-03-09T13:00:00")  # Monday, already EDT


def test_local_times_that_do_not_exist_or_repeat_follow_croniter() -> None:
    nightly = Window("allow", "30 2 * * *", 3600, "Europe/Berlin")
    # 2026-03-29 02:30 does not exist in Berlin: the window opens when the clocks jump, 03:00 CEST (01:00 UTC)
    assert windows.gate((nightly,), utc("2026-03-29T00:45:00")).until == utc("2026-03-29T01:00:00")
    assert windows.gate((nightly,), utc("2026-03-29T01:30:00")).open
    # 2026-10-25 02:30 happens twice (CEST, then CET): the window opens both times
    assert windows.gate((nightly,), utc("2026-10-25T00:45:00")).until == utc("2026-10-25T01:30:00")
    assert windows.gate((nightly,), utc("2026-10-25T01:45:00")).until == utc("2026-10-25T02:30:00")


def test_deny_wins_over_allow_and_next_open_skips_the_freeze() -> None:
    office = Window("allow", "0 9 * * 1-5", 8 * 3600, "Europe/Berlin")
    both = (FREEZE, office)
    friday_evening = utc("2026-12-04T17:30:00")  # 18:30 CET: the freeze has begun
    assert not windows.gate(both, friday_evening).open
    assert windows.next_open(both, friday_evening) == utc("2026-12-07T08:00:00")  # Monday 09:00 CET
    assert windows.gate(both, utc("2026-12-04T15:59:00")).open  # Friday 16:59 CET: office hours, no freeze yet
    assert not windows.gate(both, utc("2026-12-04T16:30:00")).open  # 17:30 CET: office hours are over


def test_window_and_approval_schema_is_validated_with_lines() -> None:
    text = textwrap.dedent("""\
        apiVersion: freightyard.io/v1alpha1
        kind: Pipeline
        metadata: {name: p}
        spec:
          warehouses: [{name: w, subscriptions: [{image: {repoURL: reg.example.com/app}}]}]
          stages:
          - name: prod
            requestedFreight: [{origin: w, sources: {direct: true}}]
            approval: {required: 0, groups: [sre], extra: 1}
            windows:
            - {kind: freeze, schedule: "0 18 * * 5", duration: 63h, timeZone: Europe/Berlin}
            - {kind: deny, schedule: "every friday", duration: 0s, timeZone: Mars/Olympus}
            verification: {onFailure: retry, commands: [{command: ["true"]}]}
        """)
    with pytest.raises(ConfigError) as raised:
        parse_pipelines(text, "p.yaml")
    problems = "\n".join(raised.value.problems)
    assert "p.yaml:9: spec.stages[0].approval.required: must be a whole number >= 1" in problems
    assert 'p.yaml:9: spec.stages[0].approval.extra: unknown field "extra"' in problems
    assert 'p.yaml:11: spec.stages[0].windows[0].kind: "freeze" is not one of allow, deny' in problems
    assert 'p.yaml:12: spec.stages[0].windows[1].schedule: "every friday" is not a 5-field cron schedule' in problems
    assert 'p.yaml:12: spec.stages[0].windows[1].timeZone: unknown time zone "Mars/Olympus"' in problems
    assert "p.yaml:12: spec.stages[0].windows[1].duration: must be longer than 0s" in problems
    assert 'p.yaml:13: spec.stages[0].verification.onFailure: "retry" is not one of rollback, hold' in problems


def test_legacy_approvals_read_as_gates_approvals() -> None:
    stage = StageState.from_dict({"approvals": {"f1": {"at": "2026-01-01T00:00:00Z", "by": "user:oncall"}}})
    assert stage.gates.approvals["f1"] == [Approval(by="user:oncall", at="2026-01-01T00:00:00Z")]
    assert "approvals" not in stage.to_dict() and stage.to_dict()["gates"]["approvals"]["f1"][0]["by"] == "user:oncall"
    assert StageState.from_dict(stage.to_dict()).gates == stage.gates
    assert (
        state_from_document({"data": {"stage.prod.yaml": "gates: {hold: {freight: f1, at: x, reason: r}}"}})
        .stages["prod"]
        .gates.hold
        is not None
    )


PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {name: shop}
spec:
  warehouses: [{name: main, subscriptions: [{image: {repoURL: reg.example.com/shop}}]}]
  stages:
  - name: qa
    requestedFreight: [{origin: main, sources: {direct: true}}]
    promotion: {mechanism: none}
    verification:
      ON_FAILURE
      commands: [{name: health, command: [sh, -c, 'test "$(cat HEALTH)" = ok']}]
  - name: prod
    requestedFreight: [{origin: main, sources: {stages: [qa]}}]
    autoPromotion: true
    promotion: {mechanism: none}
    approval: {required: 2, groups: [sre, release], separateFromPromoter: true}
    windows: [{kind: allow, schedule: "0 9 * * 1-5", duration: 8h, timeZone: America/New_York}]
"""


def shop(tmp_path: Path, on_failure: str = "") -> tuple[Engine, Path, list[dt.datetime]]:
    health = tmp_path / "health"
    health.write_text("ok")
    text = PIPELINE.replace("HEALTH", str(health)).replace(
        "ON_FAILURE", f"onFailure: {on_failure}" if on_failure else ""
    )
    pipeline: Pipeline = parse_pipelines(text, "shop.yaml")[0]
    now = [utc("2026-03-07T15:00:00")]  # a Saturday in New York
    engine = Engine(pipeline, FileStore(tmp_path / "state.yaml"), clock=lambda: now[0])
    return engine, health, now


def image(tag: str) -> Freight:
    return Freight("main", images=(Image("reg.example.com/shop", tag, "sha256:" + tag[-1] * 64),))


@pytest.mark.integration  # runs verification commands (true, sh)
def test_auto_promotion_waits_for_the_window_and_overrides_need_a_reason(tmp_path: Path) -> None:
    engine, _, now = shop(tmp_path)
    first = image("1.0.1")
    engine.add_freight(first)
    engine.promote(first.id, "qa", "user:qa")
    assert verify(engine, "qa").phase == "Succeeded"
    prod = engine.pipeline.stage("prod")
    with pytest.raises(NotEligibleError, match=r"prod needs 2 approvals from sre or release; has 0$"):
        engine.promote(first.id, "prod", "user:dave")
    engine.approve(first.id, "prod", "alice", groups=("sre",), reason="load test green")
    engine.approve(first.id, "prod", "bob", groups=("release",), reason="release notes done")
    decision = autopromote.decide(engine.pipeline, engine.state(), prod, now[0], "controller:auto-promotion")
    assert decision.promote is None
    assert decision.why.endswith("waits: outside every allow window; it next opens at 2026-03-09 09:00 EDT (13:00 UTC)")
    assert autopromote.window_opens(prod, now[0]) == utc("2026-03-09T13:00:00")
    with pytest.raises(NotEligibleError, match=r"cannot enter prod now: outside every allow window.*--override-window"):
        engine.promote(first.id, "prod", "user:dave")
    with pytest.raises(NotEligibleError, match="needs --reason"):
        engine.promote(first.id, "prod", "user:dave", override_window=True)
    now[0] = utc("2026-03-09T13:00:00")  # the window opens: the controller promotes
    decision = autopromote.decide(engine.pipeline, engine.state(), prod, now[0], "controller:auto-promotion")
    assert decision.promote == first and autopromote.window_opens(prod, now[0]) is None

    second = image("1.0.2")
    engine.add_freight(second)
    engine.promote(second.id, "qa", "user:qa")
    verify(engine, "qa")
    engine.approve(second.id, "prod", "alice", groups=("sre",), reason="ok")
    engine.approve(second.id, "prod", "dave", groups=("release",), reason="ok")
    now[0] = utc("2026-03-09T22:30:00")  # after hours
    with pytest.raises(NotEligibleError, match="dave promotes, so their own approval does not count"):
        engine.promote(second.id, "prod", "dave", override_window=True, reason="sev1")
    record = engine.promote(second.id, "prod", "erin", override_window=True, reason="sev1: payments down")
    assert record.phase == "Succeeded"
    override = engine.state().stages["prod"].gates.overrides[0]
    assert (override.by, override.freight) == ("erin", second.id)
    assert override.reason.startswith("sev1: payments down [outside every allow window; it next opens at 2026-03-10")


@pytest.mark.integration  # runs verification commands (true, sh)
def test_failed_reverification_unverifies_and_holds(tmp_path: Path) -> None:
    engine, health, now = shop(tmp_path, on_failure="hold")
    freight = image("1.0.1")
    engine.add_freight(freight)
    engine.promote(freight.id, "qa", "user:qa")
    assert verify(engine, "qa").phase == "Succeeded"
    engine.approve(freight.id, "prod", "alice", groups=("sre",), reason="ok")
    engine.approve(freight.id, "prod", "bob", groups=("release",), reason="ok")
    now[0] = utc("2026-03-09T14:00:00")
    from freightyard.shared.core import eligibility

    assert eligibility.check(engine.pipeline, engine.state(), freight, "prod", now[0], promoter="erin").eligible
    health.write_text("degraded")  # the health check now fails: re-verification un-verifies freight in qa
    outcome = verify(engine, "qa")
    assert outcome.phase == "Failed" and "command health: exit code 1" in outcome.message
    state = engine.state()
    assert not state.stages["qa"].is_verified(freight.id)
    verdict = eligibility.check(engine.pipeline, state, freight, "prod", now[0], promoter="erin")
    assert not verdict.eligible and verdict.reason.startswith("failed in qa at 2026-03-09T14:00:00Z (command health:")
    gates = state.stages["qa"].gates
    assert gates.hold is not None and gates.hold.check == "command health" and freight.id in gates.failed
    health.write_text("ok")
    engine.promote(freight.id, "qa", "user:qa")  # promoting again by hand clears the hold and the failed mark
    assert verify(engine, "qa").phase == "Succeeded"
    after = engine.state().stages["qa"].gates
    assert after.hold is None and not after.failed
