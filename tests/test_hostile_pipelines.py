"""A hostile corpus of pipeline files through every reader: validate, the controller, the generator, the CMP.

Blast radius is one pipeline: each bad file is one clear problem naming the file (never a traceback,
a hang or a secret), and every good pipeline beside it keeps working.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from freightyard.controller.cli import main
from freightyard.controller.pipelines_source import DirectoryPipelines, PipelineSet
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.render.locate import find_pipeline
from tests.helpers.generator_world import freight, make_repo, state_with, write_state
from tests.helpers.hostile_corpus import SECRET, corpus, good
from tests.test_controller_e2e import PIPELINE as LIVE_PIPELINE
from tests.test_controller_e2e import ROOT, Running, poll, world  # noqa: F401 - the fixture
from tests.test_generator import call, make_app

CORPUS = corpus()
DECLARES_NO_NAME = {"", "type-name-map", "bad-name"}  # no usable metadata.name: the generic 503 applies
NAMED = [(name, text) for name, text in CORPUS if name not in DECLARES_NO_NAME]


def write_corpus(directory: Path) -> dict[str, Path]:
    files = {}
    for i, (name, text) in enumerate(CORPUS):
        path = directory / f"{i:03d}-{name or 'anonymous'}.yaml"
        path.write_text(text, encoding="utf-8")
        files[name] = path
    return files


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 50
    kinds = {name.split("-")[0] for name, _ in CORPUS}
    assert {"tag", "deep", "alias", "huge", "type", "syntax", "cel", "cred"} <= kinds


@pytest.mark.parametrize(("name", "text"), CORPUS, ids=[n or "anonymous" for n, _ in CORPUS])
def test_validate_reports_each_hostile_file_in_one_clear_line(
    name: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    code = main(["validate", "-f", str(path)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert elapsed < 5, f"{name}: {elapsed:.1f}s"
    lines = err.splitlines()
    assert lines and all(line.startswith(f"error: {path}") for line in lines), err
    assert "Traceback" not in err and SECRET not in out + err


def test_validate_of_a_directory_names_every_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_corpus(tmp_path)
    (tmp_path / "good.yaml").write_text(good("fine"))
    assert main(["validate", "-f", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    for path in files.values():
        assert str(path) in err, path
    assert "good.yaml" not in err and SECRET not in err


def test_the_controller_loads_the_good_pipelines_and_reports_the_rest(tmp_path: Path) -> None:
    files = write_corpus(tmp_path)
    (tmp_path / "good.yaml").write_text(good("fine"))
    pipelines = PipelineSet([DirectoryPipelines(tmp_path)])
    assert list(pipelines.load()) == ["fine"]
    reported = "\n".join(pipelines.problems)
    assert all(str(path) in reported for path in files.values())
    # hot reload: the good file turns hostile one way after another; its last good version keeps running
    for _, text in NAMED[:15]:
        (tmp_path / "good.yaml").write_text(text.replace(text.split("name: ", 1)[1].split("}")[0], "fine", 1))
        assert list(pipelines.load()) == ["fine"] and pipelines.stale == ("fine",)


def test_controller_once_exits_non_zero_with_one_line_per_pipeline(world: dict[str, Any]) -> None:  # noqa: F811
    pipelines: Path = world["pipelines"]
    write_corpus(pipelines)
    (pipelines / "live.yaml").write_text(
        LIVE_PIPELINE.format(name=world["name"], interval="5m", git=world["git"], image=world["image"])
    )
    state = world["workdir"] / "state"
    state.mkdir()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "freightyard.controller.cli", "controller", "-f", str(pipelines)),
            *("--once", "--listen", "off", "--state", f"file:{state}", "--leader-election", "none"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=world["workdir"],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(world["workdir"])},
        check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"pipeline {world['name']}: ok" in lines, result.stdout + result.stderr
    not_loaded = [line for line in lines if line.startswith("not loaded: ")]
    assert len(not_loaded) >= len(CORPUS), result.stdout
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr
    assert (state / f"freightyard-{world['name']}.yaml").exists()  # the good pipeline did its work


def test_hot_reload_of_a_hostile_file_keeps_the_last_good_running(world: dict[str, Any]) -> None:  # noqa: F811
    pipelines: Path = world["pipelines"]
    live = pipelines / "live.yaml"
    text = LIVE_PIPELINE.format(name=world["name"], interval="5m", git=world["git"], image=world["image"])
    live.write_text(text)
    running = Running(world["workdir"], pipelines)
    try:
        poll(lambda: running.state(world["name"]).current_freight("dev"), timeout=30, what="dev promoted")
        live.write_text(text.replace("autoPromotion: true", "autoPromotion: !vault x", 1))
        write_corpus(pipelines)

        def warned() -> str | None:
            text = running.log.read_text()
            return text if "keeping the last good version" in text else None

        log = poll(warned, timeout=20, what="the last-good warning")
        assert running.process.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/healthz", timeout=5) as reply:
            health = json.loads(reply.read())
        assert health["ok"] and health["pipelines"] == 1
        assert "Traceback" not in log and SECRET not in log
    finally:
        running.stop()


def test_the_generator_answers_503_for_the_bad_pipeline_only(tmp_path: Path) -> None:
    pipelines = make_repo(tmp_path / "repo")
    files = write_corpus(pipelines)
    state = tmp_path / "state"
    state.mkdir()
    token = tmp_path / "token"
    from tests.helpers.generator_world import TOKEN

    token.write_text(TOKEN)
    write_state(state, "guestbook", state_with({"dev": freight(), "prod": freight()}))
    client = make_app({"pipelines": pipelines, "state": state, "token": token}).test_client()
    assert call(client).status_code == 200
    for name, _ in NAMED:
        started = time.monotonic()
        response = call(client, {"pipeline": name})
        body = response.get_json()
        assert response.status_code == 503, (name, body)
        assert str(files[name]) in body["message"], (name, body["message"])  # what Argo CD shows
        assert SECRET not in response.get_data(as_text=True)
        assert time.monotonic() - started < 2
    assert call(client).status_code == 200  # the good pipeline, after all of that


def test_the_cmp_reads_only_the_pipeline_it_was_asked_for(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "apps").mkdir()
    files = write_corpus(tmp_path)
    (tmp_path / "good.yaml").write_text(
        good("fine").replace("  - name: prod\n", "  - name: prod\n    apps: [{name: a, path: apps}]\n")
    )
    assert find_pipeline(tmp_path, "fine").name == "fine"
    for name, path in files.items():
        if name in DECLARES_NO_NAME:
            continue
        with pytest.raises(ConfigError) as raised:
            find_pipeline(tmp_path, name)
        assert all(problem.startswith(path.name) for problem in raised.value.problems), raised.value.problems
