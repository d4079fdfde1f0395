"""``freightyard demo`` (the README's main command) runs end to end and leaves the state it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from freightyard.controller.cli import main
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.pipeline_files import load_pipelines
from freightyard.shared.stores.file import FileStore


@pytest.mark.integration
def test_demo_promotes_through_dev_and_staging_and_hotfixes_prod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "demo"
    assert main(["demo", "--dir", str(workdir)]) == 0
    out, err = capsys.readouterr()
    assert "cannot enter prod: soaking in staging" in err  # the refusal is explained
    assert "image: demo.local/guestbook:1.0.1@sha256:" in out  # prod's render pins both images by digest
    assert "image: demo.local/redis:7.2.0@sha256:" in out
    pipeline = load_pipelines(workdir / "gitops" / "pipelines")[0]
    state = Engine(pipeline, FileStore(workdir / "state" / "freightyard-guestbook.yaml")).state()
    (cache,) = [f for f in state.freight.values() if f.origin == "redis"]  # the second warehouse
    first, hotfix, docs = [f for f in state.freight.values() if f.origin == "main"][::-1]
    assert [i.tag for i in first.images] == ["1.0.0"] and [i.tag for i in hotfix.images] == ["1.0.1"]
    assert [i.tag for i in cache.images] == ["7.2.0"] and not cache.commits
    assert docs.images == hotfix.images and docs.commits[0].id != hotfix.commits[0].id
    held = {name: s.collection_ids() for name, s in state.stages.items()}
    assert held == {  # one freight per origin: promoting one origin never evicted the other
        "dev": {"main": docs.id, "redis": cache.id},
        "staging": {"main": first.id, "redis": cache.id},
        "hotfix": {"main": hotfix.id},
        "prod": {"main": docs.id, "redis": cache.id},
    }
    assert state.stages["dev"].current is not None and state.stages["dev"].current.by.startswith("controller")
    staging = state.stages["staging"]  # promote --from dev: one promotion brought both
    assert [h.brought for h in staging.history] == [{"main": first.id, "redis": cache.id}]
    prod = state.stages["prod"]
    assert prod.gates.approvals[hotfix.id][-1].by == "user:oncall"
    assert [(h.freight, h.phase) for h in prod.history] == [
        (docs.id, "Noop"),
        (cache.id, "Succeeded"),
        (hotfix.id, "Succeeded"),
    ]
    assert prod.verifications[hotfix.id].phase == "Succeeded"  # the smoke check ran for the collection
    assert prod.verifications[cache.id].phase == "Succeeded"
    assert prod.verifications[docs.id].phase == "Skipped"  # a no-op after a verified render needs none
    assert "skipped app path checks" not in out  # validate checks paths in the repo the pipeline lives in
    (dev_redis,) = [line for line in out.splitlines() if line.startswith("dev ") and "redis<-direct" in line]
    assert "user:" in dev_redis  # status: who brought *this* origin's freight, not the stage's last promoter
    assert "freightyard apps" in out and "guestbook-prod" in out
    assert "prod/guestbook: unchanged (a no-op here)" in out  # freightyard diff before the no-op promotion
    last = out.rstrip().splitlines()[-1].strip()  # the demo ends by showing its pipeline as a graph
    assert last == f"freightyard ui -f {workdir / 'gitops' / 'pipelines'} --state file:{workdir / 'state'}"


def test_demo_refuses_a_non_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("x")
    assert main(["demo", "--dir", str(tmp_path)]) == 1
    assert "is not empty" in capsys.readouterr().err
