"""One ``EngineSettings`` for every entry point: the CLI and the controller agree on a stage's Applications."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from freightyard.controller.cli import build_parser
from freightyard.controller.commands.controller import build, refresh_namespaces
from freightyard.controller.options import engine_settings
from freightyard.shared.pipeline_files import load_pipelines
from freightyard.shared.settings import EngineSettings

PIPELINES = Path(__file__).resolve().parent.parent / "examples" / "quick-and-dirty" / "pipeline.yaml"


def namespaces(tmp_path: Path) -> dict[str, str]:
    """The Argo CD namespace each command's engine would patch and read Applications in."""
    parser = build_parser()
    common = ["-f", str(PIPELINES), "--state", f"file:{tmp_path}/state-{{pipeline}}.yaml"]
    seen = {
        command: engine_settings(parser.parse_args([command, *common, *rest])).argocd_namespace
        for command, rest in (
            ("promote", ["f", "s"]),
            ("approve", ["f", "s", "--reason", "r"]),
            ("verify", ["s"]),
            ("diff", ["f", "s"]),
        )
    }
    flags = ["--listen", "off", "--leader-election", "none", "--refresh", "off", "--once"]
    args = parser.parse_args(["controller", "--pipelines", str(PIPELINES), *common[2:], *flags])
    controller, _ = build(args)
    pipeline = load_pipelines(PIPELINES)[0]
    seen["controller"] = controller.engine_for(pipeline).settings.argocd_namespace
    return seen


def test_cli_and_controller_read_the_same_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the controller patched in the first of FREIGHTYARD_ARGOCD_NAMESPACES, promote always in argocd.
    monkeypatch.delenv("FREIGHTYARD_ARGOCD_NAMESPACE", raising=False)
    monkeypatch.setenv("FREIGHTYARD_ARGOCD_NAMESPACES", "apps, extra")
    assert set(namespaces(tmp_path).values()) == {"apps"}


def test_an_explicit_namespace_wins_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREIGHTYARD_ARGOCD_NAMESPACE", "team")
    monkeypatch.setenv("FREIGHTYARD_ARGOCD_NAMESPACES", "apps")
    seen = namespaces(tmp_path)
    assert set(seen.values()) == {"team"}, seen
    assert refresh_namespaces("apps, team", "team") == ("team", "apps")  # the engine's is refreshed too


def test_default_namespace_and_frozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FREIGHTYARD_ARGOCD_NAMESPACE", raising=False)
    monkeypatch.delenv("FREIGHTYARD_ARGOCD_NAMESPACES", raising=False)
    assert set(namespaces(tmp_path).values()) == {"argocd"}
    settings = EngineSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.argocd_namespace = "other"  # type: ignore[misc]
    assert settings.attempts() == 5 and dataclasses.replace(settings, push_attempts=2).attempts() == 2


@pytest.mark.parametrize(
    ("env", "value", "said"),
    [
        ("FREIGHTYARD_WORKERS", "abc", "'abc' is not a whole number (the flag or env FREIGHTYARD_WORKERS)"),
        ("FREIGHTYARD_JITTER", "1e", "'1e' is not a number (the flag or env FREIGHTYARD_JITTER)"),
        ("FREIGHTYARD_HOST_RATE", "-1", "'-1' is below the minimum 0 (the flag or env FREIGHTYARD_HOST_RATE)"),
        ("FREIGHTYARD_RELOAD_INTERVAL", "nan", "'nan' is below the minimum 0.1"),
    ],
)
def test_controller_number_env_defaults_fail_as_one_line(
    env: str, value: str, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(env, value)
    parser = build_parser()  # building the parser never converts: a bad env value is no traceback
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["controller", "--once", "-f", "pipelines"])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_controller_number_env_defaults_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREIGHTYARD_WORKERS", " 12 ")
    args = build_parser().parse_args(["controller", "--once", "-f", "pipelines"])
    assert args.workers == 12 and isinstance(args.workers, int) and args.jitter == 0.1
