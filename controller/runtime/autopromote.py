"""Which freight a stage with ``autoPromotion`` takes next, and when a soak timer next needs a look.

Pure: a pipeline, its state and the time in; a decision out. The rules:

- per requested origin (each origin's freight moves on its own): the candidate is the newest
  catalog freight of that origin that is eligible for the stage now;
- nothing happens when the stage already holds it for that origin, or holds newer freight (no automatic rollback);
- **hold**: a manual promotion records ``hold`` (the freight it put there). While the stage still
  holds that freight and it is older than the candidate, auto-promotion waits — the operator rolled
  back on purpose. The hold ends when someone promotes the candidate (then the held freight *is*
  the newest candidate, and the controller clears it) or any non-held promotion replaces it.
- **gates**: a failure hold (verification failed with ``onFailure``) waits until someone promotes by hand;
  freight that failed in the stage is never picked again; the stage's approval rule counts approvals with the
  controller as promoter; a closed promotion window is never overridden: the decision waits and the
  controller wakes when the window opens (``window_opens``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from freightyard.shared.core import eligibility, windows
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Pipeline, Stage
from freightyard.shared.core.state import VERIFIED_PHASES, State, parse_time


@dataclass(frozen=True)
class Decision:
    """What to do for one stage: ``promote`` this freight, ``release`` a stale hold, or nothing (``why``)."""

    stage: str
    promote: Freight | None = None
    release_hold: bool = False
    why: str = ""


def decide(pipeline: Pipeline, state: State, stage: Stage, now: dt.datetime, actor: str = "") -> Decision:
    """The auto-promotion decision for ``stage`` (which must have ``autoPromotion``): the first origin
    with something to do, in request order (the controller asks again until nothing changes);
    ``actor`` promotes (approval rules may exclude its own approvals)."""
    stage_state = state.stages.get(stage.name)
    gates = stage_state.gates if stage_state else None
    if gates and gates.hold:
        return Decision(stage.name, why=f"auto-promotion held: {gates.hold.reason}; promote by hand to resume")
    decisions = decide_all(pipeline, state, stage, now, actor)
    acting = next((d for d in decisions if d.promote is not None or d.release_hold), None)
    if acting is not None:
        return acting
    return Decision(stage.name, why="; ".join(d.why for d in decisions) or "requests no freight")


def decide_all(pipeline: Pipeline, state: State, stage: Stage, now: dt.datetime, actor: str = "") -> list[Decision]:
    """One decision per requested origin: each origin's freight moves on its own (Kargo #5952)."""
    return [_decide_origin(pipeline, state, stage, request.origin, now, actor) for request in stage.requested_freight]


def _decide_origin(  # noqa: PLR0917
    pipeline: Pipeline, state: State, stage: Stage, origin: str, now: dt.datetime, actor: str
) -> Decision:
    stage_state = state.stages.get(stage.name)
    gates = stage_state.gates if stage_state else None
    order = {freight_id: index for index, freight_id in enumerate(state.freight)}  # 0 is newest
    candidate = next(
        (
            f
            for f in state.freight.values()
            if f.origin == origin
            and not (gates and f.id in gates.failed)
            and eligibility.check(pipeline, state, f, stage.name, now, promoter=actor).eligible
        ),
        None,
    )
    holding = stage_state.freight.get(origin) if stage_state else None
    current = holding.id if holding else ""
    hold = stage_state.hold if stage_state and stage_state.hold == current else ""
    if candidate is None:
        return Decision(stage.name, why=f"{origin}: no eligible freight")
    if hold and hold == current == candidate.id:
        return Decision(stage.name, release_hold=True, why="the candidate was promoted by hand: hold released")
    if candidate.id == current:
        return Decision(stage.name, why=f"{origin}: already holds the newest eligible freight {candidate.alias}")
    if current and order.get(current, len(order)) < order[candidate.id]:
        return Decision(stage.name, why=f"{origin}: holds newer freight than the newest eligible (no auto-rollback)")
    if hold:
        return Decision(
            stage.name,
            why=f"{origin}: auto-promotion held: {hold[:7]} was promoted by hand; promote {candidate.alias} to resume",
        )
    gate = windows.gate(stage.windows, now)
    if not gate.open:
        return Decision(stage.name, why=f"{origin}: {candidate.alias} waits: {gate.reason}")
    return Decision(stage.name, promote=candidate, why=f"{origin}: newest eligible freight is {candidate.alias}")


def window_opens(stage: Stage, now: dt.datetime) -> dt.datetime | None:
    """When a stage whose promotion window is closed now may promote again (None: it is open)."""
    if not stage.windows or windows.gate_open(stage.windows, now):
        return None
    return windows.next_open(stage.windows, now)


def next_soak_end(pipeline: Pipeline, state: State, stage: Stage, now: dt.datetime) -> dt.datetime | None:
    """When the earliest still-soaking upstream verification of some catalog freight completes, if any."""
    ends = []
    for request in stage.requested_freight:
        soak = request.sources.required_soak_seconds
        if not soak:
            continue
        for upstream in request.sources.stages:
            upstream_state = state.stages.get(upstream)
            if upstream_state is None:
                continue
            for freight_id, mark in upstream_state.verifications.items():
                if mark.phase not in VERIFIED_PHASES or freight_id not in state.freight or not mark.at:
                    continue
                end = parse_time(mark.at) + dt.timedelta(seconds=soak)
                if end > now:
                    ends.append(end)
    return min(ends, default=None)


def auto_stages(pipeline: Pipeline) -> list[Stage]:
    """Stages with ``autoPromotion``, upstream before downstream (so one pass can go dev → staging)."""
    ordered: list[Stage] = []
    placed: set[str] = set()
    remaining = list(pipeline.stages)
    while remaining:
        ready = [s for s in remaining if all(u in placed for r in s.requested_freight for u in r.sources.stages)]
        if not ready:  # validation rejects cycles; keep file order for anything left
            ready = remaining[:1]
        for stage in ready:
            ordered.append(stage)
            placed.add(stage.name)
            remaining.remove(stage)
    return [s for s in ordered if s.auto_promotion]
