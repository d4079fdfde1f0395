"""Pipeline files: every class of mistake is reported with file:line, field path and a fix, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.pipeline_files import load_pipelines

GOOD = textwrap.dedent("""\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {name: guestbook}
    spec:
      warehouses:
      - name: main
        interval: 5m
        subscriptions:
        - git: {repoURL: https://git.example.com/org/mono.git, branch: main, includePaths: [apps/guestbook/]}
        - image: {repoURL: registry.example.com/org/guestbook, imageSelectionStrategy: SemVer, constraint: ^1.4.0}
        - chart: {repoURL: oci://registry.example.com/charts, name: guestbook, semverConstraint: ^2}
      stages:
      - name: dev
        requestedFreight: [{origin: main, sources: {direct: true}}]
        autoPromotion: true
        apps: [{name: guestbook, path: apps/guestbook/overlays/dev,
                destination: {server: https://kubernetes.default.svc, namespace: guestbook-dev}}]
      - name: staging
        requestedFreight: [{origin: main, sources: {stages: [dev]}}]
      - name: hotfix
        requestedFreight: [{origin: main, sources: {direct: true}}]
      - name: prod
        requestedFreight: [{origin: main, sources: {stages: [staging, hotfix], requiredSoakTime: 1h}}]
        promotion: {mechanism: pin}
        verification: {argocd: {healthy: true}, skipWhenUnchanged: true}
    """)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_pipelines(text, "pipelines/guestbook.yaml")
    return caught.value.problems


def test_the_design_example_is_valid() -> None:
    (pipeline,) = parse_pipelines(GOOD, "p.yaml")
    assert [s.name for s in pipeline.stages] == ["dev", "staging", "hotfix", "prod"]
    prod = pipeline.stage("prod")
    assert prod.requested_freight[0].sources.stages == ("staging", "hotfix")
    assert prod.requested_freight[0].sources.required_soak_seconds == 3600
    assert pipeline.state.name == "freightyard-guestbook" and pipeline.state.namespace == "argocd"
    assert pipeline.warehouses[0].interval_seconds == 300
    assert prod.verification is not None and prod.verification.argocd_healthy


def test_unknown_warehouse_names_file_line_field_and_known_values() -> None:
    typo = GOOD.replace("origin: main, sources: {stages: [dev]}", "origin: mian, sources: {stages: [dev]}")
    (problem,) = problems(typo)
    assert problem == (
        "pipelines/guestbook.yaml:19: spec.stages[1].requestedFreight[0].origin: unknown warehouse "
        "\"mian\" (did you mean 'main'? known: main)"
    )


def test_unknown_key_suggests_the_right_one() -> None:
    (problem,) = problems(GOOD.replace("autoPromotion: true", "autoPromote: true"))
    assert problem.startswith("pipelines/guestbook.yaml:15: spec.stages[0].autoPromote: unknown field")
    assert 'did you mean "autoPromotion"' in problem


def test_unknown_stage_reference() -> None:
    (problem,) = problems(GOOD.replace("stages: [staging, hotfix]", "stages: [staging, hotfx]"))
    assert 'spec.stages[3].requestedFreight[0].sources.stages[1]: unknown stage "hotfx"' in problem


def test_cycle_in_the_stage_graph() -> None:
    text = GOOD.replace(
        "requestedFreight: [{origin: main, sources: {direct: true}}]\n    autoPromotion",
        "requestedFreight: [{origin: main, sources: {stages: [staging]}}]\n    autoPromotion",
    )
    found = problems(text)
    assert any("stages form a cycle: dev -> staging -> dev" in p or "staging -> dev -> staging" in p for p in found)


def test_invalid_semver_constraint_and_regex() -> None:
    text = GOOD.replace("constraint: ^1.4.0", "constraint: ^1.x.4, allowTags: '(unclosed'")
    found = problems(text)
    assert any(
        "spec.warehouses[0].subscriptions[1].image.constraint: invalid semver constraint '^1.x.4'" in p for p in found
    )
    assert any("spec.warehouses[0].subscriptions[1].image.allowTags: invalid regular expression" in p for p in found)


def test_duplicate_names() -> None:
    text = GOOD.replace("- name: hotfix", "- name: staging")
    assert any('spec.stages[2].name: duplicate stage name "staging"' in p for p in problems(text))


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    text = (
        GOOD.replace("autoPromotion: true", "autoPromotion: maybe")
        .replace("interval: 5m", "interval: soon")
        .replace("mechanism: pin", "mechanism: teleport")
    )
    found = problems(text)
    assert len(found) == 3
    assert any("autoPromotion: must be true or false" in p for p in found)
    assert any('interval: invalid duration "soon"' in p for p in found)
    assert any('unknown mechanism "teleport"' in p for p in found)


def test_invalid_expression_and_enum() -> None:
    text = GOOD.replace("constraint: ^1.4.0", "imageSelectionStrategy: Newest, tagFrom: '${{ commit.id[ }}'")
    found = problems(text.replace("imageSelectionStrategy: SemVer, ", ""))
    assert any('"Newest" is not one of SemVer, Lexical, NewestBuild, Digest' in p for p in found)
    assert any("tagFrom: invalid expression" in p for p in found)


def test_not_yaml_points_at_the_line() -> None:
    (problem,) = problems("apiVersion: x\nspec: [unclosed\n")
    assert problem.startswith("pipelines/guestbook.yaml:3: not valid YAML")


def test_wrong_api_version_and_missing_required() -> None:
    found = problems(
        GOOD.replace("freightyard.io/v1alpha1", "freightyard.io/v9").replace(
            "- name: staging\n    requestedFreight: [{origin: main, sources: {stages: [dev]}}]\n", "- name: staging\n"
        )
    )
    assert any('apiVersion: must be "freightyard.io/v1alpha1"' in p for p in found)
    assert any("spec.stages[1].requestedFreight: is required" in p for p in found)


def test_missing_app_path_on_disk(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "guestbook.yaml").write_text(GOOD)
    with pytest.raises(ConfigError) as caught:
        load_pipelines(tmp_path / "pipelines")
    (problem,) = caught.value.problems
    assert problem.endswith(
        'spec.stages[0].apps[0].path: directory "apps/guestbook/overlays/dev" does not exist '
        f"under the repo root {tmp_path} (create it or fix the path)"
    )
    assert ":16:" in problem
    (tmp_path / "apps/guestbook/overlays/dev").mkdir(parents=True)
    (pipeline,) = load_pipelines(tmp_path / "pipelines")
    assert pipeline.repo_root == str(tmp_path)


def test_app_path_may_not_escape() -> None:
    found = problems(GOOD.replace("path: apps/guestbook/overlays/dev", "path: ../outside"))
    assert any('"../outside" must be relative to the repo root' in p for p in found)


def test_duplicate_pipelines_across_files(tmp_path: Path) -> None:
    apps = (
        "    apps: [{name: guestbook, path: apps/guestbook/overlays/dev,\n"
        "            destination: {server: https://kubernetes.default.svc, namespace: guestbook-dev}}]\n"
    )
    text = GOOD.replace(apps, "")
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(ConfigError, match='pipeline "guestbook" is defined more than once'):
        load_pipelines(tmp_path)


def test_regexes_re2_cannot_run_and_bad_platforms_are_refused_with_file_and_line() -> None:
    text = GOOD.replace(
        "constraint: ^1.4.0",
        r"constraint: ^1.4.0, allowTags: '^(a)\1$', ignoreTags: ['(?=rc)', 'glob:*-dev'], platform: invalid, "
        r"ignoreTagsRegexes: ['(?<=x)']",
    )
    found = problems(text)
    where = "pipelines/guestbook.yaml:10"
    assert any(
        p.startswith(where) and "image.allowTags: invalid regular expression" in p and "RE2" in p for p in found
    ), found
    assert any("image.ignoreTags[0]: invalid regular expression '(?=rc)'" in p for p in found)
    assert not any("ignoreTags[1]" in p for p in found)  # a glob: form is not read as a regex
    assert any("image.ignoreTagsRegexes[0]: invalid regular expression" in p for p in found)
    assert any(p.startswith(where) and "image.platform: platform 'invalid': expected os/arch" in p for p in found)
    listed = GOOD.replace("constraint: ^1.4.0", "constraint: ^1.4.0, platform: 'linux/amd64, linux/arm64/v8'")
    parse_pipelines(listed, "pipelines/guestbook.yaml")


def test_filter_tags_extract_must_name_a_group_of_its_pattern() -> None:
    bad = GOOD.replace(
        "imageSelectionStrategy: SemVer, constraint: ^1.4.0",
        "imageSelectionStrategy: Numerical, filterTags: {pattern: '^main-(?P<ts>[0-9]+)', extract: '$stamp'}",
    )
    found = problems(bad)
    assert any("image.filterTags.extract: $stamp is not a group of pattern" in p for p in found), found
    good = bad.replace("$stamp", "$ts").replace("Numerical,", "Numerical, order: desc,")
    sub = parse_pipelines(good, "pipelines/guestbook.yaml")[0].warehouses[0].subscriptions[1]
    assert (sub.strategy, sub.filter_extract, sub.order) == ("Numerical", "$ts", "desc")  # type: ignore[union-attr]
