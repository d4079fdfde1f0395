"""Expressions are bounded and their names checked before CEL runs: a bomb is refused in
milliseconds, a typo is a validation error with file:line and the names that do exist."""

from __future__ import annotations

import time

import pytest

from freightyard.shared.core import expressions
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.pipeline import parse_pipelines
from tests.test_pipeline_validation import GOOD

pytestmark = pytest.mark.unit

LIST = "[" + ",".join(["1"] * 30) + "]"
BOMBS = [
    f"${{{{ {LIST}.map(a, {LIST}.map(b, {LIST}.map(c, {LIST}.map(d, 1)))) }}}}",  # 30^4 elements
    f"${{{{ {LIST}.all(a, {LIST}.exists(b, {LIST}.filter(c, true).size() > 0)) }}}}",
    "${{ " + ".map(x, x)".join(["freight.commits"] * 1) + ".map(x, x).map(x, x).map(x, x).map(x, x) }}",
]


@pytest.mark.parametrize("bomb", BOMBS)
def test_comprehension_bombs_are_refused_at_once_both_at_validation_and_at_evaluation(bomb: str) -> None:
    started = time.monotonic()
    why = expressions.check(bomb)
    assert why is not None and ("inside another comprehension" in why or "more than 3" in why)
    with pytest.raises(expressions.ExpressionError, match="comprehension"):
        expressions.render(bomb, {"freight": {"commits": []}})
    assert time.monotonic() - started < 2.0


def test_one_level_of_macros_stays_allowed() -> None:
    text = "${{ freight.images.exists(i, i.tag.startsWith('1.')) ? 'release' : 'build' }}"
    assert expressions.check(text) is None
    assert expressions.render(text, {"freight": {"images": [{"tag": "1.2.0"}]}}) == "release"


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("commitMessage", "${{ freigth.alias }}", "unknown name 'freigth' (known here: freight, pipeline, stage)"),
        ("commitMessage", "${{ shorten(freight.id) }}", "unknown function shorten()"),
        ("commitMessage", "${{ commit.id }}", "unknown name 'commit'"),  # only tagFrom sees the commit
    ],
)
def test_unknown_names_are_validation_errors_with_the_line(field: str, value: str, said: str) -> None:
    text = GOOD.replace("promotion: {mechanism: pin}", f"promotion: {{mechanism: render-branch, {field}: '{value}'}}")
    with pytest.raises(ConfigError) as caught:
        parse_pipelines(text, "pipelines/guestbook.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("pipelines/guestbook.yaml:24: spec.stages[3].promotion.commitMessage: "), problem
    assert said in problem


def test_tag_from_sees_the_commit_and_nothing_else() -> None:
    assert expressions.check("${{ commit.short }}-${{ short(commit.id, 8) }}", expressions.TAG_FROM_NAMES) is None
    why = expressions.check("${{ freight.alias }}", expressions.TAG_FROM_NAMES)
    assert why is not None and "unknown name 'freight' (known here: commit)" in why


def test_a_redos_pattern_against_a_long_tag_returns_at_once() -> None:
    """What a backtracking engine takes minutes for, RE2 answers in linear time (allowTags, filters)."""
    from freightyard.shared.core.regex import compile_regex

    pattern = compile_regex("(a+)+$")
    started = time.monotonic()
    assert pattern.search("a" * 100_000 + "!") is None
    assert time.monotonic() - started < 2.0
