"""SIGKILL in the middle of a git-writing promotion, at random points and right after the push lands:
the retry never takes the dead process's work as done, so the stage's verification still runs."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from freightyard.shared.core.errors import NotEligibleError
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.verification.runner import verify
from tests.helpers.mechanism_fixtures import (
    DEPLOYMENT,
    IMAGE,
    app_files,
    commit_files,
    engine_for,
    freight,
    head,
    make_repo,
    show,
)
from tests.servers.git_http import GitHttpServer

pytestmark = pytest.mark.integration

RANDOM_KILLS = 20
PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {{name: crash}}
    spec:
      warehouses:
      - name: main
        subscriptions:
        - git: {{repoURL: "{url}", branch: main}}
        - image: {{repoURL: {image}}}
      stages:
      - name: dev
        requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
        promotion: {{mechanism: render-branch}}
        verification: {{commands: [{{name: smoke, command: ["false"]}}]}}
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/dev}}
      - name: prod
        requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    """

# The promoting process: the same engine the controller and the CLI use, over the same state file.
PROMOTE = """\
import sys, textwrap
from pathlib import Path
from tests.helpers.mechanism_fixtures import engine_for
work, freight_id = Path(sys.argv[1]), sys.argv[2]
engine = engine_for((work / "pipeline.yaml").read_text(), work)
engine.promote(freight_id, "dev", "crash-test")
"""


def _spawn(work: Path, freight_id: str) -> subprocess.Popen[bytes]:
    """A promotion in its own process group, so SIGKILL takes its git and kustomize children too
    (as a container's death does)."""
    with (work / "promoter.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", PROMOTE, str(work), freight_id],
            cwd=Path(__file__).resolve().parents[1],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def _new_freight(engine: Engine, bare: Path, url: str, replicas: int) -> str:
    body = DEPLOYMENT.replace("APP", "guestbook") + f"  replicas: {replicas}\n"
    sha = commit_files(bare, {"apps/guestbook/base/deployment.yaml": body}, message=f"replicas {replicas}")
    made = freight(url, sha)
    engine.add_freight(made)
    return made.id


def _settle(engine: Engine, freight_id: str) -> None:
    """After the kill: promote again (as the controller's next pass or a user would), then require
    that dev's check ran and that prod refuses freight whose dev check failed."""
    state = engine.state()
    dev = state.stages["dev"]
    if not any(r.phase != "Failed" and r.brought.get("main") == freight_id for r in dev.history):
        record = engine.promote(freight_id, "dev", "crash-test")
        assert record.phase in ("Succeeded", "Noop"), record
    state = engine.state()
    dev = state.stages["dev"]
    assert not dev.in_flight  # the dead attempt was recorded as interrupted (or never began)
    assert dev.freight["main"].id == freight_id
    mark = dev.verifications[freight_id]
    assert mark.phase == "Pending", (mark, [(r.phase, r.message) for r in dev.history[:3]])
    assert verify(engine, "dev").phase == "Failed"  # `false` ran: the kill did not wave it through
    with pytest.raises(NotEligibleError, match="dev"):
        engine.promote(freight_id, "prod", "crash-test")


def test_sigkill_at_random_points_of_a_render_branch_promotion_never_skips_verification(
    git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    bare, url = make_repo(git_http_server, f"crash-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    text = PIPELINE.format(url=url, image=IMAGE)
    (tmp_path / "pipeline.yaml").write_text(text)
    engine = engine_for(text, tmp_path)

    # How long one promotion takes here, to spread the kills over it.
    first = _new_freight(engine, bare, url, 1)
    started = time.monotonic()
    done = _spawn(tmp_path, first)
    assert done.wait(timeout=120) == 0, (tmp_path / "promoter.log").read_text()
    duration = time.monotonic() - started
    _settle(engine, first)

    rng = random.Random(20261203)  # noqa: S311 - kill times, not secrets
    interrupted = 0
    for attempt in range(RANDOM_KILLS):
        freight_id = _new_freight(engine, bare, url, attempt + 2)
        child = _spawn(tmp_path, freight_id)
        time.sleep(rng.uniform(0.0, duration))
        _kill_group(child)
        cut_short = bool(engine.state().stages["dev"].in_flight)
        _settle(engine, freight_id)
        if cut_short:
            interrupted += 1
            failed = next(r for r in engine.state().stages["dev"].history if r.phase == "Failed")
            assert failed.brought == {"main": freight_id} and failed.message.startswith("interrupted:")
    assert interrupted > 0  # some kills landed between the intent and the outcome


def test_sigkill_right_after_the_push_lands_still_verifies(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    """The worst moment: the remote has the rendered branch, the state has no outcome yet. The retry
    finds nothing left to push (the mechanism's own no-op) and must still run verification."""
    bare, url = make_repo(git_http_server, f"crash-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    text = PIPELINE.format(url=url, image=IMAGE)
    (tmp_path / "pipeline.yaml").write_text(text)
    engine = engine_for(text, tmp_path)
    freight_id = _new_freight(engine, bare, url, 3)
    group_file = tmp_path / "promoter.pgid"
    hook = bare / "hooks" / "post-receive"
    hook.write_text(
        textwrap.dedent(f"""\
            #!/bin/sh
            cat >/dev/null
            kill -9 "-$(cat {group_file})"
            """)
    )
    hook.chmod(0o755)

    child = _spawn(tmp_path, freight_id)
    group_file.write_text(str(child.pid))
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL, (tmp_path / "promoter.log").read_text()
    hook.unlink()

    pushed = show(bare, "env/dev", "apps/guestbook/overlays/dev/manifests.yaml") or ""
    assert "replicas: 3" in pushed and head(bare, "env/dev")  # the push landed ...
    dev = engine.state().stages["dev"]
    assert not dev.history and [f.brought for f in dev.in_flight] == [{"main": freight_id}]  # ... its outcome did not

    record = engine.promote(freight_id, "dev", "crash-test")
    assert record.phase == "Noop"  # render-branch: the branch already holds this render
    history = engine.state().stages["dev"].history
    assert [r.phase for r in history] == ["Noop", "Failed"] and history[1].message.startswith("interrupted:")
    _settle(engine, freight_id)


@pytest.mark.unit
def test_the_controller_fails_intents_left_by_its_predecessor_or_too_old(tmp_path: Path) -> None:
    """After a restart (a new pod: another host, so no pid check), the controller's own intents from
    before it started are its dead predecessor's; anyone else's only once older than any mechanism runs."""
    import datetime as dt
    import functools

    from freightyard.controller.metrics import Metrics
    from freightyard.controller.runtime.reconcile import ACTOR, Reconciler
    from freightyard.shared.core.state import InFlight, format_time
    from freightyard.shared.stores.file import FileStore
    from tests.helpers.controller_fakes import FakeSources, pipeline

    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    engine = Engine(pipeline(), FileStore(tmp_path / "state.yaml"), clock=lambda: now)
    reconciler = Reconciler(FakeSources(), Metrics.create(), started=now)

    def begun(at: dt.datetime, by: str, promotion: str) -> InFlight:
        return InFlight(promotion, {"main": "f" * 40}, by=by, at=format_time(at), holder="old-pod:7")

    intents = [
        begun(now - dt.timedelta(minutes=1), ACTOR, "mine-before-start"),
        begun(now - dt.timedelta(minutes=1), "alice", "alice-recent"),
        begun(now - dt.timedelta(hours=1), "bob", "bob-old"),
    ]
    engine.change(lambda state: setattr(state.stage("dev"), "in_flight", list(intents)))
    assert engine.recover_interrupted(functools.partial(reconciler._died, now=now)) == ["dev"]
    dev = engine.state().stages["dev"]
    assert [f.promotion for f in dev.in_flight] == ["alice-recent"]  # may still be running elsewhere
    assert sorted(r.id for r in dev.history) == ["bob-old", "mine-before-start"]
    assert all(r.phase == "Failed" and r.message.startswith("interrupted:") for r in dev.history)


@pytest.mark.unit
def test_a_mechanism_that_crashes_with_a_bug_leaves_a_failed_record_not_a_dangling_intent(tmp_path: Path) -> None:
    from freightyard.shared.core.freight import Freight, Image
    from freightyard.shared.core.pipeline import parse_pipelines
    from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext
    from freightyard.shared.settings import EngineSettings
    from freightyard.shared.stores.file import FileStore

    class Broken:
        def promote(self, context: PromotionContext) -> MechanismResult:
            raise KeyError("a bug")

    (pipeline,) = parse_pipelines(textwrap.dedent(PIPELINE.format(url="https://git.example.com/o/r.git", image=IMAGE)))
    engine = Engine(
        pipeline,
        FileStore(tmp_path / "state.yaml"),
        settings=EngineSettings(noop_detection=False),
        mechanisms=lambda name: Broken(),
    )
    made = Freight("main", images=(Image(IMAGE, "1.0.0", "sha256:" + "1" * 64),))
    engine.add_freight(made)
    with pytest.raises(KeyError):
        engine.promote(made.id, "dev", "t")
    dev = engine.state().stages["dev"]
    assert not dev.in_flight and not dev.freight
    assert [(r.phase, r.message) for r in dev.history] == [("Failed", "internal error (KeyError): 'a bug'")]
