"""The promotion engine: eligibility, then the stage's mechanism, then one recorded outcome.

Every state change goes through ``update_document``, so racing writers (two promotions, a
promotion and a discovery) each land; nothing here talks to git, a registry or Kubernetes
directly — mechanisms and stores do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freightyard.shared.core import eligibility
from freightyard.shared.core.errors import FreightyardError, MechanismError, NotEligibleError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.state import (
    FAILED,
    NOOP,
    Mark,
    PromotionRecord,
    State,
    find_freight,
    format_time,
    now_utc,
    state_from_document,
    state_to_document,
)
from freightyard.shared.engine import noop
from freightyard.shared.mechanisms.base import Mechanism, MechanismResult, PromotionContext, mechanism_for
from freightyard.shared.mechanisms.pin import Pin
from freightyard.shared.settings import EngineSettings
from freightyard.shared.stores.base import Document, DocumentStore, update_document

log = logging.getLogger(__name__)
PENDING = "Pending"


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
        return state_from_document(self.store.read().document)

    def change(self, mutate: Callable[[State], Any]) -> Any:
        """Apply ``mutate`` to the freshest state and store it (retried on conflicts)."""

        def apply(document: Document | None) -> tuple[Document, Any]:
            state = state_from_document(document)
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

    def approve(self, freight_ref: str, stage_name: str, actor: str, *, reason: str = "") -> Freight:
        self.pipeline.stage(stage_name)
        freight = find_freight(self.state(), freight_ref)
        at = format_time(self.clock())

        def mutate(state: State) -> None:
            state.add_freight(freight)
            state.stage(stage_name).approvals[freight.id] = Mark(at=at, by=actor, message=reason)

        self.change(mutate)
        return freight

    def promote(self, freight_ref: str, stage_name: str, actor: str, *, hold: bool = False) -> PromotionRecord:
        """Promote, or raise ``NotEligibleError`` saying why not; a failed mechanism is recorded, then raised.

        ``hold`` marks a manual promotion: when newer eligible freight exists (a rollback), the stage's
        auto-promotion then waits until someone promotes the candidate again, as in Kargo.
        """
        stage = self.pipeline.stage(stage_name)
        state = self.state()
        freight = find_freight(state, freight_ref)
        now = self.clock()
        verdict = eligibility.check(self.pipeline, state, freight, stage_name, now)
        if not verdict.eligible:
            raise NotEligibleError(f"{freight.alias} ({freight.short_id}) cannot enter {stage_name}: {verdict.reason}")
        hold = hold and self._newer_eligible_exists(state, freight, stage_name, now)
        current = state.current_freight(stage_name)
        context = PromotionContext(self.pipeline, stage, freight, current, actor, self.cache_dir, self.settings)
        if current is not None and current.id == freight.id:
            result = MechanismResult(
                NOOP,
                f"{freight.alias} is already in {stage_name}",
                revision=state.stage(stage_name).current.revision  # type: ignore[union-attr]
                if state.stage(stage_name).current
                else "",
            )
        else:
            renders = self._noop_verdict(context)
            if renders is not None and renders.unchanged:
                result = self._noop_result(context, state, renders)
            else:
                try:
                    result = self.mechanisms(stage.promotion.mechanism).promote(context)
                except FreightyardError as error:
                    self._record(stage_name, freight, actor, MechanismResult(FAILED, error.message), hold=False)
                    raise MechanismError(
                        f"promoting {freight.alias} into {stage_name} failed: {error.message}",
                        temporary=error.temporary,
                    ) from error
                if renders is not None:
                    result = dataclasses.replace(
                        result,
                        changed_apps=renders.changed,
                        render_hash=result.render_hash or renders.candidate.render_hash,
                    )
        record = self._record(stage_name, freight, actor, result, hold=hold)
        log.info(
            "promoted %s into %s: %s",
            freight.alias,
            stage_name,
            record.phase,
            extra={"pipeline": self.pipeline.name, "stage": stage_name, "freight": freight.id, "phase": record.phase},
        )
        return record

    def _noop_verdict(self, context: PromotionContext) -> noop.NoopVerdict | None:
        """Render-level comparison with the current freight, when the stage has apps and one is pinned."""
        if context.current is None or not context.stage.apps or not self.settings.noop_detection:
            return None
        from freightyard.shared.sources.git import GitMirrors

        mirrors = GitMirrors(Path(self.cache_dir), credentials=self.settings.credential_lookup())
        return noop.detect(
            self.pipeline,
            context.stage,
            context.freight,
            context.current,
            mirrors=mirrors,
            env=self.settings.tools(),
        )

    def _noop_result(self, context: PromotionContext, state: State, verdict: noop.NoopVerdict) -> MechanismResult:
        """Nothing renders differently: record without running the mechanism (no commit, no patch)."""
        apps = ", ".join(sorted(verdict.candidate.apps))
        current = state.stage(context.stage.name).current
        if context.stage.promotion.mechanism == "pin":
            revision = Pin().promote(context).revision
        else:  # branch and trunk writers: the stage's branch/commit stays what it was
            revision = current.revision if current else ""
        return MechanismResult(
            NOOP,
            f"rendered output unchanged for every app ({apps}); nothing to do",
            revision=revision,
            render_hash=verdict.candidate.render_hash,
        )

    def _newer_eligible_exists(self, state: State, freight: Freight, stage_name: str, now: dt.datetime) -> bool:
        for other in state.freight.values():  # newest first
            if other.id == freight.id:
                return False
            if eligibility.check(self.pipeline, state, other, stage_name, now).eligible:
                return True
        return False

    def _record(
        self, stage_name: str, freight: Freight, actor: str, result: MechanismResult, *, hold: bool
    ) -> PromotionRecord:
        stage = self.pipeline.stage(stage_name)
        at = format_time(self.clock())
        record = PromotionRecord(
            freight=freight.id,
            stage=stage_name,
            by=actor,
            at=at,
            phase=result.phase,
            mechanism=stage.promotion.mechanism,
            render_hash=result.render_hash,
            message=result.message,
            revision=result.revision,
            changed_apps=list(result.changed_apps),
        )
        needs_verification = stage.verification is not None and not stage.verification.empty

        def mutate(state: State) -> None:
            state.add_freight(freight)
            stage_state = state.stage(stage_name)
            stage_state.history.insert(0, record)
            if result.phase == FAILED:
                return
            stage_state.current = record
            stage_state.hold = freight.id if hold else ""
            if result.phase == NOOP and stage.verification and stage.verification.skip_when_unchanged:
                stage_state.verifications[freight.id] = Mark(
                    at=at, phase="Skipped", message="no-op promotion: nothing changed"
                )
            elif not needs_verification:
                stage_state.verifications[freight.id] = Mark(
                    at=at, phase="Succeeded", message="stage has no verification"
                )
            else:
                stage_state.verifications[freight.id] = Mark(at=at, phase=PENDING, message="awaiting verification")

        self.change(mutate)
        return record

    def record_verification(self, stage_name: str, freight_id: str, phase: str, message: str = "") -> None:
        at = format_time(self.clock())
        self.change(
            lambda state: state.stage(stage_name).verifications.__setitem__(
                freight_id, Mark(at=at, phase=phase, message=message)
            )
        )
