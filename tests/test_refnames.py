"""Branch names are checked as ``git check-ref-format --branch`` checks them (the real binary decides)."""

from __future__ import annotations

import subprocess

import pytest

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.refnames import branch_problem
from tests.servers.tools import git_path
from tests.test_pipeline_validation import GOOD

NAMES = [
    "main",
    "env/prod",
    "release/1.2.x",
    "feat/$HOME-x",
    "a-b_c+d=e,f@g",
    "v1.0",
    "ünïcode/branch",
    "env/..bad~^:",
    "a..b",
    "a b",
    "a~b",
    "a^b",
    "a:b",
    "a?b",
    "a*b",
    "a[b",
    "a\\b",
    "a\tb",
    "a\x7fb",
    ".hidden",
    "env/.hidden",
    "x.lock",
    "env/x.lock/y",
    "/lead",
    "trail/",
    "a//b",
    "dot.",
    "a@{b",
    "-dash",
    "a/-b",
    "a.lock.b",
    "HEAD",
]


@pytest.mark.integration
@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_git_check_ref_format(name: str) -> None:
    done = subprocess.run([git_path(), "check-ref-format", "--branch", name], capture_output=True, check=False)
    git_accepts = done.returncode == 0
    assert (branch_problem(name) is None) == git_accepts, (name, branch_problem(name), done.stderr)


@pytest.mark.unit
def test_names_git_branch_refuses_although_check_ref_format_expands_them() -> None:
    assert branch_problem("@") is not None  # `--branch @` means "the current branch"; `git branch @` fails
    assert branch_problem("HEAD") is not None


@pytest.mark.unit
def test_a_bad_branch_is_a_validation_error_with_the_line() -> None:
    text = GOOD.replace("branch: main", "branch: 'env/..bad~^:'", 1)
    with pytest.raises(ConfigError) as caught:
        parse_pipelines(text, "pipelines/guestbook.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("pipelines/guestbook.yaml:9: spec.warehouses[0].subscriptions[0].git.branch: ")
    assert "invalid branch name 'env/..bad~^:'" in problem


@pytest.mark.unit
def test_a_bad_promotion_branch_is_a_validation_error() -> None:
    text = GOOD.replace("promotion: {mechanism: pin}", "promotion: {mechanism: render-branch, branch: 'x.lock'}")
    with pytest.raises(ConfigError) as caught:
        parse_pipelines(text, "pipelines/guestbook.yaml")
    (problem,) = caught.value.problems
    assert "promotion.branch: invalid branch name 'x.lock'" in problem and 'ending in ".lock"' in problem
