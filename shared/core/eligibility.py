"""May freight F enter stage S now? Pure rules with a human explanation when the answer is no.

F may enter S if S requests F's origin and, for that request: the source is ``direct``; or F is
manually approved for S; or F is verified in the upstream stage(s) (any for ``OneOf``, every one
for ``All``) and has soaked there for ``requiredSoakTime`` since it was verified. A stage with an
``approval:`` rule also needs that many approvals on top (then an approval no longer replaces the
sources); freight that failed verification upstream is not eligible downstream.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from freightyard.shared.core import approvals
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.state import State, parse_time


@dataclass(frozen=True)
class Verdict:
    eligible: bool
    reason: str  # why (not), in words a user can act on
    via: str = ""  # "direct", "approval", or the upstream stage(s) it came through


def check(
    pipeline: Pipeline, state: State, freight: Freight, stage_name: str, now: dt.datetime, *, promoter: str = ""
) -> Verdict:
    """May ``freight`` enter ``stage_name`` at ``now`` when ``promoter`` promotes it?"""
    verdict = _sources(pipeline, state, freight, stage_name, now)
    rule = pipeline.stage(stage_name).approval
    if rule is None or not verdict.eligible:
        return verdict
    stage_state = state.stages.get(stage_name)
    given = stage_state.gates.approvals.get(freight.id, []) if stage_state else []
    tally = approvals.tally(rule, given, promoter)
    if not tally.met:
        return Verdict(False, approvals.refusal(stage_name, rule, tally))
    names = ", ".join(a.by for a in tally.counted)
    return Verdict(True, f"{verdict.reason}; approved by {names}", verdict.via)


def _sources(pipeline: Pipeline, state: State, freight: Freight, stage_name: str, now: dt.datetime) -> Verdict:
    stage = pipeline.stage(stage_name)
    request = stage.request_for(freight.origin)
    if request is None:
        origins = ", ".join(r.origin for r in stage.requested_freight) or "none"
        return Verdict(
            False, f"stage {stage_name} does not take freight from warehouse {freight.origin} (it requests: {origins})"
        )
    sources = request.sources
    if sources.direct:
        return Verdict(True, f"{stage_name} takes freight directly from warehouse {freight.origin}", "direct")
    approval = state.stages.get(stage_name)
    given = approval.gates.approvals.get(freight.id) if approval and stage.approval is None else None
    if given:  # without an approval rule, an approval lets freight skip its upstream stages
        mark = given[-1]
        return Verdict(True, f"approved for {stage_name} by {mark.by or 'someone'} at {mark.at}", "approval")
    passed: list[str] = []
    failures: list[str] = []
    for upstream in sources.stages:
        problem = _upstream_problem(state, freight, upstream, sources.required_soak_seconds, now)
        (failures if problem else passed).append(problem or upstream)
    if sources.availability == "All":
        if not failures:
            return Verdict(True, f"verified in {', '.join(passed)}", ",".join(passed))
        hint = "; ".join(failures)
    else:
        if passed:
            return Verdict(True, f"verified in {passed[0]}", passed[0])
        hint = "; ".join(failures)
    upstreams = " and ".join(sources.stages) if sources.availability == "All" else " or ".join(sources.stages)
    if stage.approval is not None:  # approvals are on top of the sources there, they do not replace them
        return Verdict(False, f"{hint}; verify it in {upstreams} first")
    return Verdict(False, f"{hint}; approve it for {stage_name} or verify it in {upstreams} first")


def _upstream_problem(state: State, freight: Freight, upstream: str, soak_seconds: int, now: dt.datetime) -> str:
    stage_state = state.stages.get(upstream)
    mark = stage_state.verifications.get(freight.id) if stage_state else None
    failed = stage_state.gates.failed.get(freight.id) if stage_state else None
    if failed is not None:
        return f"failed in {upstream} at {failed.at} ({failed.reason})"
    if mark is None:
        return f"not verified in {upstream}"
    if mark.phase not in ("Succeeded", "Skipped"):
        return f"verification in {upstream} is {mark.phase.lower()}" + (f" ({mark.message})" if mark.message else "")
    if soak_seconds:
        soaked = (now - parse_time(mark.at)).total_seconds()
        if soaked < soak_seconds:
            left = int(soak_seconds - soaked)
            return f"soaking in {upstream}: {_span(left)} of {_span(soak_seconds)} left"
    return ""


def _span(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v) or "0s"
