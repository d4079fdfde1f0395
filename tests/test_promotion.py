"""The promotion engine against a real file store: records, verification bookkeeping, failures, races."""

from __future__ import annotations

import multiprocessing
import textwrap
from pathlib import Path

import pytest

from freightyard.shared.core.errors import MechanismError, NotEligibleError, NotFoundError
from freightyard.shared.core.freight import Freight, Image
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import find_freight
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.mechanisms.base import Mechanism, MechanismResult, PromotionContext
from freightyard.shared.stores.file import FileStore

PIPELINE = textwrap.dedent("""\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {name: p}
    spec:
      warehouses:
      - {name: main, subscriptions: [{image: {repoURL: reg.example.com/app}}]}
      stages:
      - {name: dev, requestedFreight: [{origin: main, sources: {direct: true}}]}
      - name: staging
        requestedFreight: [{origin: main, sources: {stages: [dev]}}]
        verification: {commands: [{command: ["true"]}]}
      - {name: prod, requestedFreight: [{origin: main, sources: {stages: [staging]}}]}
    """)


def make_freight(n: int) -> Freight:
    return Freight("main", images=(Image("reg.example.com/app", f"1.0.{n}", "sha256:" + f"{n:064x}"),))


def engine(path: Path) -> Engine:
    pipeline: Pipeline = parse_pipelines(PIPELINE)[0]
    return Engine(pipeline, FileStore(path / "state.yaml"), cache_dir=path / "cache")


def test_promote_records_history_and_verifies_stages_without_checks(tmp_path: Path) -> None:
    e = engine(tmp_path)
    freight = make_freight(1)
    e.add_freight(freight)
    record = e.promote(freight.alias, "dev", "user:a")
    assert record.phase == "Succeeded" and record.by == "user:a"
    state = e.state()
    assert state.stages["dev"].current is not None and state.stages["dev"].current.freight == freight.id
    assert state.stages["dev"].verifications[freight.id].phase == "Succeeded"
    e.promote(freight.id[:8], "staging", "user:a")
    assert e.state().stages["staging"].verifications[freight.id].phase == "Pending"
    with pytest.raises(NotEligibleError, match="verification in staging is pending"):
        e.promote(freight.id, "prod", "user:a")
    e.record_verification("staging", freight.id, "Succeeded")
    assert e.promote(freight.id, "prod", "user:a").phase == "Succeeded"


def test_promoting_what_is_already_there_is_a_noop(tmp_path: Path) -> None:
    e = engine(tmp_path)
    freight = make_freight(1)
    e.add_freight(freight)
    e.promote(freight.id, "dev", "u")
    again = e.promote(freight.id, "dev", "u")
    assert again.phase == "Noop"
    assert [h.phase for h in e.state().stages["dev"].history] == ["Noop", "Succeeded"]


class Exploding:
    def promote(self, context: PromotionContext) -> MechanismResult:
        raise MechanismError("push rejected by the remote")


def test_failed_mechanism_is_recorded_and_the_pin_kept(tmp_path: Path) -> None:
    e = engine(tmp_path)
    first, second = make_freight(1), make_freight(2)
    e.add_freight(first)
    e.add_freight(second)
    e.promote(first.id, "dev", "u")

    def mechanisms(name: str) -> Mechanism:
        return Exploding()

    e.mechanisms = mechanisms
    with pytest.raises(MechanismError, match="push rejected"):
        e.promote(second.id, "dev", "u")
    dev = e.state().stages["dev"]
    assert dev.current is not None and dev.current.freight == first.id
    assert dev.history[0].phase == "Failed" and "push rejected" in dev.history[0].message


def test_unknown_freight_and_ambiguous_prefix(tmp_path: Path) -> None:
    e = engine(tmp_path)
    with pytest.raises(NotFoundError, match="no freight 'nope' in the catalog"):
        find_freight(e.state(), "nope")


def _promote_many(path: str, worker: int) -> None:
    e = engine(Path(path))
    for n in range(3):
        freight = make_freight(worker * 100 + n)
        e.add_freight(freight)
        e.promote(freight.id, "dev", f"worker-{worker}")


def test_racing_promotions_from_several_processes_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_promote_many, args=(str(tmp_path), w)) for w in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    state = engine(tmp_path).state()
    history = state.stages["dev"].history
    # 18 promotions (history keeps 20): every one of them is there, from every worker.
    expected = sorted(make_freight(w * 100 + n).id for w in range(6) for n in range(3))
    assert sorted(h.freight for h in history) == expected
    assert {h.by for h in history} == {f"worker-{w}" for w in range(6)}
    assert len(state.freight) == 18


def test_only_a_manual_rollback_holds_auto_promotion(tmp_path: Path) -> None:
    e = engine(tmp_path)
    older, newer = make_freight(1), make_freight(2)
    e.add_freight(older)
    e.promote(older.id, "dev", "user:a", hold=True)
    assert e.state().stages["dev"].hold == ""  # it was the newest freight: nothing to hold against
    e.add_freight(newer)
    e.promote(newer.id, "dev", "user:a", hold=True)
    assert e.state().stages["dev"].hold == ""
    e.promote(older.id, "dev", "user:a", hold=True)  # a rollback while newer freight is eligible
    assert e.state().stages["dev"].hold == older.id
