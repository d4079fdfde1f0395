"""The promotion engine: eligibility, then the stage's mechanism, then one recorded outcome.

Every state change goes through ``update_document``, so racing writers (two promotions, a
promotion and a discovery) each land; nothing here talks to git, a registry or Kubernetes
directly — mechanisms and stores do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freightyard.shared.core import eligibility, rollback, windows
from freightyard.shared.core.errors import FreightyardError, MechanismError, NotEligibleError, NotFoundError
from freightyard.shared.core.freight import Freight, combine
from freightyard.shared.core.gates import Approval, Event
from freightyard.shared.core.model import App, Pipeline, Stage
from freightyard.shared.core.params import app_repo_url, target_revision
from freightyard.shared.core.state import (
    FAILED,
    NOOP,
    AppPin,
    Holding,
    InFlight,
    Mark,
    PromotionRecord,
    StageState,
    State,
    find_freight,
    format_time,
    now_utc,
    promotion_id,
    state_from_document,
    state_to_document,
)
from freightyard.shared.engine import noop
from freightyard.shared.mechanisms.base import Mechanism, MechanismResult, PromotionContext, mechanism_for
from freightyard.shared.mechanisms.pin import Pin
from freightyard.shared.render.stage import stage_hash
from freightyard.shared.settings import EngineSettings
from freightyard.shared.stores.base import Document, DocumentStore, update_document

log = logging.getLogger(__name__)
PENDING = "Pending"
ROLLBACK_ACTOR = "controller:rollback"
RECORD_ONLY = ("pin", "none")  # mechanisms whose whole effect is the state write itself
MAX_IN_FLIGHT = 20  # concurrent promotions of one stage kept as intents; older ones drop off


@dataclass
class Engine:
    """One pipeline's operations against its store."""

    pipeline: Pipeline
    store: DocumentStore
    cache_dir: Path = Path(".freightyard-cache")
    settings: EngineSettings = field(default_factory=EngineSettings)
    clock: Callable[[], dt.datetime] = now_utc
    mechanisms: Callable[[str], Mechanism] = mechanism_for

    def state(self) -> State:
        return state_from_document(self.store.read().document, self.pipeline)

    def change(self, mutate: Callable[[State], Any]) -> Any:
        """Apply ``mutate`` to the freshest state and store it (retried on conflicts)."""

        def apply(document: Document | None) -> tuple[Document, Any]:
            state = state_from_document(document, self.pipeline)
            result = mutate(state)
            return state_to_document(
                state,
                pipeline=self.pipeline.name,
                name=self.pipeline.state.name,
                namespace=self.pipeline.state.namespace,
                previous=document,
            ), result

        return update_document(self.store, apply)

    def add_freight(self, freight: Freight) -> bool:
        added: bool = self.change(lambda state: state.add_freight(freight))
        return added

    def approve(
        self, freight_ref: str, stage_name: str, actor: str, *, groups: tuple[str, ...] = (), reason: str = ""
    ) -> Freight:
        """Record ``actor``'s approval (with the groups their identity carries and why) of freight for a stage."""
        self.pipeline.stage(stage_name)
        freight = find_freight(self.state(), freight_ref)
        bounded = tuple(dict.fromkeys(g[:100] for g in groups))[:20]
        approval = Approval(by=actor[:200], at=format_time(self.clock()), groups=bounded, reason=reason[:500])

        def mutate(state: State) -> None:
            state.add_freight(freight)
            state.stage(stage_name).gates.approve(freight.id, approval)

        self.change(mutate)
        return freight

    def promote(
        self,
        freight_ref: str,
        stage_name: str,
        actor: str,
        *,
        hold: bool = False,
        override_window: bool = False,
        reason: str = "",
    ) -> PromotionRecord:
        """Promote, or raise ``NotEligibleError`` saying why not; a failed mechanism is recorded, then raised.

        The freight replaces only its own origin's entry in the stage's collection. ``hold`` marks a
        manual promotion: when newer eligible freight exists (a rollback), the stage's auto-promotion
        of that origin then waits until someone promotes the candidate again, as in Kargo.
        ``override_window`` (with a ``reason``, recorded) promotes inside a closed promotion window.
        """
        stage = self.pipeline.stage(stage_name)
        state = self.state()
        freight = find_freight(state, freight_ref)
        now = self.clock()
        verdict = eligibility.check(self.pipeline, state, freight, stage_name, now, promoter=actor)
        if not verdict.eligible:
            raise NotEligibleError(f"{freight.alias} ({freight.short_id}) cannot enter {stage_name}: {verdict.reason}")
        self._check_window(freight, stage_name, actor, now, override=override_window, reason=reason)
        hold = hold and self._newer_eligible_exists(state, freight, stage_name, now)
        return self._promote(stage, state, {freight.origin: freight}, actor, hold=hold)

    def promote_from(
        self, source: str, stage_name: str, actor: str, *, override_window: bool = False, reason: str = ""
    ) -> PromotionRecord:
        """Promote the whole collection verified in ``source`` into ``stage_name`` as one unit."""
        self.pipeline.stage(source)
        stage = self.pipeline.stage(stage_name)
        state = self.state()
        members = state.collection(source)
        if not members:
            raise NotFoundError(f"stage {source} holds no freight yet; promote some there first")
        wanted = {origin: f for origin, f in members.items() if stage.request_for(origin) is not None}
        if not wanted:
            raise NotEligibleError(
                f"stage {stage_name} requests none of the origins {source} holds ({', '.join(members)})"
            )
        now = self.clock()
        for freight in wanted.values():
            if not state.stage(source).is_verified(freight.id):
                raise NotEligibleError(
                    f"{freight.alias} ({freight.short_id}) is not verified in {source}; verify {source} first"
                )
            verdict = eligibility.check(self.pipeline, state, freight, stage_name, now, promoter=actor)
            if not verdict.eligible:
                raise NotEligibleError(
                    f"{freight.alias} ({freight.short_id}) cannot enter {stage_name}: {verdict.reason}"
                )
            self._check_window(freight, stage_name, actor, now, override=override_window, reason=reason)
        return self._promote(stage, state, wanted, actor, hold=False)

    def _check_window(
        self, freight: Freight, stage_name: str, actor: str, now: dt.datetime, *, override: bool, reason: str
    ) -> None:
        gate = windows.gate(self.pipeline.stage(stage_name).windows, now)
        if gate.open:
            return
        if not override:
            raise NotEligibleError(
                f"{freight.alias} ({freight.short_id}) cannot enter {stage_name} now: {gate.reason} "
                "(to go ahead anyway: --override-window --reason TEXT)"
            )
        if not reason.strip():
            raise NotEligibleError(f"overriding {stage_name}'s promotion window needs --reason TEXT (it is recorded)")
        why = f"{reason.strip()[:500]} [{gate.reason}]"
        event = Event(freight=freight.id, at=format_time(now), by=actor, reason=why)
        self.change(lambda state: state.stage(stage_name).gates.overrides.insert(0, event))
        log.warning(
            "%s overrode %s's promotion window: %s",
            actor,
            stage_name,
            event.reason,
            extra={"pipeline": self.pipeline.name, "stage": stage_name, "freight": freight.id},
        )

    def _promote(
        self,
        stage: Stage,
        state: State,
        incoming: dict[str, Freight],
        actor: str,
        *,
        hold: bool,
        phase: str = "",
    ) -> PromotionRecord:
        """Run the stage's mechanism (or record a no-op) for ``incoming``; ``phase`` replaces a success's phase."""
        stage_state = state.stage(stage.name)
        current = state.collection(stage.name)
        collection = {**current, **incoming}
        old = combine(current.values()) if current else None
        new = combine(collection.values())
        context = PromotionContext(self.pipeline, stage, new, old, actor, self.cache_dir, self.settings)
        shown = ", ".join(f.alias for f in incoming.values())
        landed = stage_state.current
        renders: dict[str, noop.AppRender] | None = None
        unchanged = False  # known from state alone; a mechanism's own "nothing to write" proves nothing
        intent = ""
        if old is not None and old.id == new.id:
            revision = landed.revision if landed else ""
            result = MechanismResult(NOOP, f"{shown} is already in {stage.name}", revision=revision)
            unchanged = True
        else:
            renders = self._render_apps(context)
            changed = self._changed_apps(stage_state, renders)
            if old is not None and renders is not None and not changed:
                result = self._noop_result(context, renders)
                unchanged = True
            else:
                if stage.promotion.mechanism not in RECORD_ONLY:  # they write nothing a crash could half-do
                    intent = self._begin(stage, incoming, new, actor)
                try:
                    result = self.mechanisms(stage.promotion.mechanism).promote(context)
                except FreightyardError as error:
                    failed = MechanismResult(FAILED, error.message)
                    self._record(stage, incoming, new, actor=actor, result=failed, pins={}, hold=False, intent=intent)
                    raise MechanismError(
                        f"promoting {shown} into {stage.name} failed: {error.message}",
                        temporary=error.temporary,
                    ) from error
                except Exception as error:  # a bug: record it (and drop the intent) rather than leave it dangling
                    failed = MechanismResult(FAILED, f"internal error ({type(error).__name__}): {error}"[:1000])
                    self._record(stage, incoming, new, actor=actor, result=failed, pins={}, hold=False, intent=intent)
                    raise
                if renders is not None:
                    hashes = {name: r.render_hash for name, r in renders.items() if r.exists}
                    result = dataclasses.replace(
                        result,
                        changed_apps=tuple(changed),
                        render_hash=result.render_hash or stage_hash(hashes),
                    )
        if phase:
            result = dataclasses.replace(result, phase=phase)
        pins = self._new_pins(
            stage, stage_state=stage_state, combined=new, collection=collection, result=result, renders=renders
        )
        record = self._record(
            stage,
            incoming,
            new,
            actor=actor,
            result=result,
            pins=pins,
            hold=hold,
            intent=intent,
            unchanged=unchanged,
        )
        log.info(
            "promoted %s into %s: %s",
            shown,
            stage.name,
            record.phase,
            extra={"pipeline": self.pipeline.name, "stage": stage.name, "freight": new.id, "phase": record.phase},
        )
        return record

    def _begin(self, stage: Stage, incoming: dict[str, Freight], combined: Freight, actor: str) -> str:
        """Record the intent before the mechanism writes anywhere; returns the intent's id. Intents left
        by a process of this host that no longer runs are recorded as interrupted on the way."""
        at = format_time(self.clock())
        intent = InFlight(
            promotion=promotion_id(at, combined.id),
            brought={origin: f.id for origin, f in sorted(incoming.items())},
            by=actor,
            at=at,
            mechanism=stage.promotion.mechanism,
            holder=holder(),
        )

        def mutate(state: State) -> None:
            for freight in incoming.values():
                state.add_freight(freight)
            stage_state = state.stage(stage.name)
            _fail_interrupted(stage.name, stage_state, holder_gone)
            stage_state.in_flight = [*stage_state.in_flight, intent][-MAX_IN_FLIGHT:]

        self.change(mutate)
        return intent.promotion

    def recover_interrupted(self, dead: Callable[[InFlight], bool]) -> list[str]:
        """Record as Failed every started promotion whose process has ended without writing its
        outcome (``dead`` says so, or it ran on this host and is gone); returns the stages. Such a
        stage keeps the freight it held before."""

        def gone(started: InFlight) -> bool:
            return holder_gone(started) or dead(started)

        if not any(gone(f) for s in self.state().stages.values() for f in s.in_flight):
            return []

        def mutate(state: State) -> list[str]:
            return [name for name, stage_state in state.stages.items() if _fail_interrupted(name, stage_state, gone)]

        names: list[str] = self.change(mutate)
        for name in names:
            log.warning(
                "a promotion into %s was interrupted (its process ended before recording the outcome); "
                "recorded as Failed",
                name,
                extra={"pipeline": self.pipeline.name, "stage": name},
            )
        return names

    def _render_apps(self, context: PromotionContext) -> dict[str, noop.AppRender] | None:
        """Each app rendered with the candidate collection, when the stage has apps and detection is on."""
        if not context.stage.apps or not self.settings.noop_detection:
            return None
        from freightyard.shared.sources.git import GitMirrors

        mirrors = GitMirrors(Path(self.cache_dir), credentials=self.settings.credential_lookup())
        return noop.render_apps(
            self.pipeline, context.stage, context.freight, mirrors=mirrors, env=self.settings.tools()
        )

    @staticmethod
    def _changed_apps(stage_state: StageState, renders: dict[str, noop.AppRender] | None) -> list[str]:
        """Apps whose render differs from their pin (or that have none yet); apps missing at the commit are
        left out. Without renders: every app."""
        if renders is None:
            return []
        changed = []
        for name, rendered in renders.items():
            pin = stage_state.apps.get(name)
            if not rendered.exists:
                continue
            if pin is None or not rendered.render_hash or pin.render_hash != rendered.render_hash:
                changed.append(name)
        return changed

    def _new_pins(
        self,
        stage: Stage,
        *,
        stage_state: StageState,
        combined: Freight,
        collection: dict[str, Freight],
        result: MechanismResult,
        renders: dict[str, noop.AppRender] | None,
    ) -> dict[str, AppPin]:
        """The pins this promotion writes: only apps whose render changed (all, when it could not render)."""
        if result.phase == FAILED:
            return {}
        ids = {origin: f.id for origin, f in sorted(collection.items())}
        names = [a.name for a in stage.apps] if renders is None else self._changed_apps(stage_state, renders)
        if result.phase == NOOP and renders is None and stage_state.apps:
            return {}
        pins = {}
        for app in stage.apps:
            if app.name not in names:
                continue
            rendered = renders.get(app.name) if renders else None
            pins[app.name] = AppPin(
                ids,
                revision=self._app_revision(stage, app, result.revision, combined),
                render_hash=rendered.render_hash if rendered else "",
            )
        return pins

    def _app_revision(self, stage: Stage, app: App, mechanism_revision: str, freight: Freight) -> str:
        """What the app's Application points at: a writing mechanism's revision; else the collection's
        commit of the app's repo; else the app's own targetRevision (never a chart version over it)."""
        if stage.promotion.mechanism not in ("pin", "none") and mechanism_revision:
            return mechanism_revision
        try:
            repo = app_repo_url(self.pipeline, app, freight)
        except FreightyardError:
            return mechanism_revision
        commit = freight.commit_from(repo)
        if commit is not None:
            return commit.id
        if app.target_revision:
            return app.target_revision
        return target_revision(stage, app, "", freight, repo)

    def _noop_result(self, context: PromotionContext, renders: dict[str, noop.AppRender]) -> MechanismResult:
        """Nothing renders differently: record without running the mechanism (no commit, no patch)."""
        apps = ", ".join(sorted(renders))
        landed = self.state().stage(context.stage.name).current
        if context.stage.promotion.mechanism == "pin":
            revision = Pin().promote(context).revision
        else:  # branch and trunk writers: the stage's branch/commit stays what it was
            revision = landed.revision if landed else ""
        hashes = {name: r.render_hash for name, r in renders.items() if r.exists}
        return MechanismResult(
            NOOP,
            f"rendered output unchanged for every app ({apps}); nothing to do",
            revision=revision,
            render_hash=stage_hash(hashes),
        )

    def _newer_eligible_exists(self, state: State, freight: Freight, stage_name: str, now: dt.datetime) -> bool:
        for other in state.freight.values():  # newest first
            if other.id == freight.id:
                return False
            if other.origin != freight.origin:
                continue
            if eligibility.check(self.pipeline, state, other, stage_name, now).eligible:
                return True
        return False

    def _record(
        self,
        stage: Stage,
        incoming: dict[str, Freight],
        combined: Freight,
        *,
        actor: str,
        result: MechanismResult,
        pins: dict[str, AppPin],
        hold: bool,
        intent: str = "",
        unchanged: bool = False,
    ) -> PromotionRecord:
        """Record one outcome. Verification is skipped only for a no-op the engine found from state
        (``unchanged``) into a stage whose collection was already verified: a mechanism that finds its
        work already done (a retry after a crash between push and record) is verified like any other."""
        at = format_time(self.clock())
        brought = {origin: f.id for origin, f in sorted(incoming.items())}
        record = PromotionRecord(
            freight=brought[sorted(brought)[0]],
            stage=stage.name,
            by=actor,
            at=at,
            phase=result.phase,
            mechanism=stage.promotion.mechanism,
            render_hash=result.render_hash,
            message=result.message,
            revision=result.revision,
            changed_apps=list(result.changed_apps),
            id=promotion_id(at, combined.id),
            brought=brought,
            collection=combined.id,
        )
        for pin in pins.values():
            pin.promotion = record.id
        needs_verification = stage.verification is not None and not stage.verification.empty

        def mutate(state: State) -> None:
            for freight in incoming.values():
                state.add_freight(freight)
            stage_state = state.stage(stage.name)
            verified_before = bool(stage_state.freight) and all(
                stage_state.is_verified(member) for member in stage_state.collection_ids().values()
            )
            stage_state.in_flight = [started for started in stage_state.in_flight if started.promotion != intent]
            stage_state.history.insert(0, record)
            if result.phase == FAILED:
                return
            for origin, freight in incoming.items():
                stage_state.freight[origin] = Holding(freight.id, record.id, at)
            stage_state.apps.update(pins)
            stage_state.hold = record.freight if hold else ""
            stage_state.gates.hold = None  # someone (or a rollback) promoted: a failure hold has done its job
            failed_here = False
            for freight in incoming.values():
                previous = stage_state.verifications.get(freight.id)
                was_failed = stage_state.gates.failed.pop(freight.id, None) is not None
                failed_here = failed_here or was_failed or (previous is not None and previous.phase == FAILED)
            skip = unchanged and stage.verification and stage.verification.skip_when_unchanged
            # Freight that failed here is verified again, never waved through.
            if skip and verified_before and not failed_here:
                mark = Mark(at=at, phase="Skipped", message="no-op promotion: nothing changed", promotion=record.id)
            elif not needs_verification:
                mark = Mark(at=at, phase="Succeeded", message="stage has no verification", promotion=record.id)
            else:
                mark = Mark(at=at, phase=PENDING, message="awaiting verification", promotion=record.id)
            for freight in incoming.values():
                stage_state.verifications[freight.id] = mark

        self.change(mutate)
        return record

    def record_verification(
        self, stage_name: str, freight_id: str, phase: str, message: str = "", *, check: str = ""
    ) -> None:
        """Record a verification of the stage's collection: one check verifies every freight it holds, when
        ``freight_id`` is one of them (or the collection's id); otherwise only ``freight_id``. A failure replaces
        "verified in STAGE" (re-verification un-verifies) and applies the stage's ``verification.onFailure``
        (``check``: the failing check's name)."""
        at = format_time(self.clock())

        def mutate(state: State) -> list[tuple[str, bool]]:
            stage_state = state.stage(stage_name)
            members = stage_state.collection_ids()
            combined = state.current_freight(stage_name)
            landed = stage_state.current
            ids = (
                list(members.values())
                if freight_id in members.values() or (combined and combined.id == freight_id)
                else [freight_id]
            )
            firsts = []
            for member in ids:
                first = stage_state.verifications.get(member, Mark(at="", phase=PENDING)).phase == PENDING
                stage_state.verifications[member] = Mark(
                    at=at, phase=phase, message=message, promotion=landed.id if landed else ""
                )
                firsts.append((member, first))
            return firsts

        firsts: list[tuple[str, bool]] = self.change(mutate)
        if phase in (FAILED, "Error"):
            for member, first in firsts:
                self._verification_failed(stage_name, member, message, check=check, first=first)

    def _verification_failed(self, stage_name: str, freight_id: str, message: str, *, check: str, first: bool) -> None:
        state = self.state()
        freight = state.freight.get(freight_id)
        if freight is None:
            return
        stage = self.pipeline.stage(stage_name)
        plan = rollback.plan(stage, state.stage(stage_name), freight, state.freight, first=first)
        extra = {"pipeline": self.pipeline.name, "stage": stage_name, "freight": freight_id}
        if not plan.hold:
            return
        failing = check or message.split(":", 1)[0]
        why = f"verification of {freight.alias} failed in {stage_name} ({message[:300]})"
        restored = ""
        if plan.restore:
            previous = state.freight[plan.restore]
            try:
                self._promote(
                    stage, state, {previous.origin: previous}, ROLLBACK_ACTOR, hold=False, phase=rollback.ROLLED_BACK
                )
                restored = previous.id
                why += f"; rolled back to {previous.alias}"
            except FreightyardError as error:
                why += f"; rolling back to {previous.alias} failed: {error.message}"
        at = format_time(self.clock())
        hold = Event(freight=freight_id, at=at, reason=why, by=ROLLBACK_ACTOR, check=failing, restored=restored)

        def mutate(state: State) -> None:
            gates = state.stage(stage_name).gates
            gates.failed[freight_id] = Event(freight=freight_id, at=at, reason=message[:300], check=failing)
            gates.hold = hold
            if restored:
                gates.rollbacks.insert(0, hold)
                landed = state.stage(stage_name).current
                if landed is not None and restored in (landed.brought.values() or [landed.freight]):
                    landed.message = f"rolled back: {failing} failed for {freight.alias}"

        self.change(mutate)
        log.warning("%s; auto-promotion held (%s)", why, plan.why, extra=extra)


INTERRUPTED = (
    "interrupted: the process ended after the {mechanism} mechanism started and before its outcome was recorded; "
    "the stage keeps the freight it held before (promote again to retry)"
)


def holder() -> str:
    """This process, as intents name it (computed per call: forked workers are other processes)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_gone(started: InFlight) -> bool:
    """True when the intent's process ran on this host and no longer exists."""
    host, _, pid = started.holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _fail_interrupted(stage: str, stage_state: StageState, gone: Callable[[InFlight], bool]) -> bool:
    """Turn intents whose process is ``gone`` into Failed records (nothing they wrote is taken as done)."""
    ended = [started for started in stage_state.in_flight if gone(started)]
    if not ended:
        return False
    stage_state.in_flight = [started for started in stage_state.in_flight if started not in ended]
    for started in ended:
        if any(r.id == started.promotion for r in stage_state.history):
            continue
        brought = started.brought or {"": ""}
        stage_state.history.insert(
            0,
            PromotionRecord(
                freight=brought[sorted(brought)[0]],
                stage=stage,
                by=started.by,
                at=started.at,
                phase=FAILED,
                mechanism=started.mechanism,
                message=INTERRUPTED.format(mechanism=started.mechanism or "promotion"),
                id=started.promotion,
                brought=dict(started.brought),
            ),
        )
    return True
