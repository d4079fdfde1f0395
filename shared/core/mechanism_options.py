"""Each mechanism's options, checked when the pipeline is parsed (pure: no I/O, no mechanism imports).

``validate(mechanism, options)`` returns ``(field, problem)`` pairs; ``field`` is relative to the
stage's ``promotion`` block. The mechanism modules re-export their checker as ``validate_options``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freightyard.shared.core import expressions
from freightyard.shared.core.refnames import branch_problem

Problems = list[tuple[str, str]]
GIT_KEYS = ("repoURL", "branch", "commitMessage", "author", "credentials", "pushAttempts")
IMAGE_VALUE_FORMATS = ("tag@digest", "tag", "digest", "ref", "repository")


def validate(mechanism: str, options: dict[str, Any]) -> Problems:
    checker = CHECKERS.get(mechanism)
    return checker(options) if checker else []


def pin_options(options: dict[str, Any]) -> Problems:
    return _unknown(options, ())


def render_branch_options(options: dict[str, Any]) -> Problems:
    return _unknown(options, (*GIT_KEYS, "sourceRevision")) + _git(options) + _string(options, "sourceRevision")


def copy_branch_options(options: dict[str, Any]) -> Problems:
    problems = _unknown(options, (*GIT_KEYS, "sourceRevision", "paths")) + _git(options)
    problems += _string(options, "sourceRevision") + _strings(options, "paths")
    return problems


def update_images_options(options: dict[str, Any]) -> Problems:
    problems = _unknown(options, (*GIT_KEYS, "startFrom", "updates")) + _git(options) + _string(options, "startFrom")
    updates = options.get("updates")
    if updates is None:
        return problems
    if not isinstance(updates, list) or not updates:
        return [
            *problems,
            ("updates", "must be a non-empty list of {kustomization: DIR} or {valuesFile: FILE, key: a.b.c} entries"),
        ]
    for i, item in enumerate(updates):
        where = f"updates[{i}]"
        if not isinstance(item, dict):
            problems.append((where, "must be a mapping"))
            continue
        if ("kustomization" in item) == ("valuesFile" in item):
            problems.append((where, "needs exactly one of kustomization (a directory) or valuesFile (a file)"))
            continue
        if "kustomization" in item:
            problems += _unknown(item, ("kustomization", "images"), where)
            problems += _string(item, "kustomization", where, required=True) + _strings(item, "images", where)
        else:
            problems += _unknown(item, ("valuesFile", "key", "image", "value"), where)
            problems += _string(item, "valuesFile", where, required=True) + _string(item, "key", where, required=True)
            problems += _string(item, "image", where)
            value = item.get("value", "tag@digest")
            if not isinstance(value, str) or (value not in IMAGE_VALUE_FORMATS and "${{" not in value):
                problems.append((f"{where}.value", f"must be one of {', '.join(IMAGE_VALUE_FORMATS)} or an expression"))
            problems += _expression(value, f"{where}.value")
    return problems


def update_app_options(options: dict[str, Any]) -> Problems:
    problems = _unknown(options, ("applications", "refresh"))
    apps = options.get("applications")
    if not isinstance(apps, list) or not apps:
        return [
            *problems,
            (
                "applications",
                "is required: a list of {name: <Application>} entries "
                "(each must carry the freightyard.io/authorized-stage annotation)",
            ),
        ]
    if "refresh" in options and not isinstance(options["refresh"], bool):
        problems.append(("refresh", "must be true or false"))
    for i, item in enumerate(apps):
        where = f"applications[{i}]"
        if not isinstance(item, dict):
            problems.append((where, "must be a mapping with a name"))
            continue
        problems += _unknown(item, ("name", "namespace", "targetRevision", "kustomizeImages", "helmParameters"), where)
        problems += _string(item, "name", where, required=True) + _string(item, "namespace", where)
        problems += _string(item, "targetRevision", where)
        if "kustomizeImages" in item and not isinstance(item["kustomizeImages"], bool):
            problems.append((f"{where}.kustomizeImages", "must be true or false"))
        params = item.get("helmParameters")
        if params is None:
            continue
        if not isinstance(params, list):
            problems.append((f"{where}.helmParameters", "must be a list of {name, value}"))
            continue
        for j, param in enumerate(params):
            at = f"{where}.helmParameters[{j}]"
            if not isinstance(param, dict):
                problems.append((at, "must be a mapping {name, value}"))
                continue
            problems += _unknown(param, ("name", "value"), at)
            problems += _string(param, "name", at, required=True) + _string(param, "value", at, required=True)
    return problems


def _unknown(options: dict[str, Any], allowed: tuple[str, ...], where: str = "") -> Problems:
    prefix = f"{where}." if where else ""
    return [
        (f"{prefix}{key}", f'unknown option "{key}" (allowed: {", ".join(allowed) or "none"})')
        for key in options
        if key not in allowed
    ]


def _git(options: dict[str, Any]) -> Problems:
    problems = _string(options, "repoURL") + _branch(options) + _string(options, "commitMessage")
    problems += _string(options, "credentials")
    author = options.get("author")
    if author is not None:
        if not isinstance(author, dict) or set(author) - {"name", "email"}:
            problems.append(("author", "must be a mapping {name, email}"))
        else:
            problems += _string(author, "name", "author") + _string(author, "email", "author")
    attempts = options.get("pushAttempts")
    if attempts is not None and (not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1):
        problems.append(("pushAttempts", "must be a whole number >= 1"))
    return problems


def _string(options: dict[str, Any], key: str, where: str = "", *, required: bool = False) -> Problems:
    path = f"{where}.{key}" if where else key
    if key not in options or options[key] is None:
        return [(path, "is required")] if required else []
    value = options[key]
    if not isinstance(value, str) or (required and not value):
        return [(path, "must be a non-empty string" if required else "must be a string")]
    return _expression(value, path)


def _branch(options: dict[str, Any]) -> Problems:
    problems = _string(options, "branch")
    value = options.get("branch")
    why = branch_problem(value) if isinstance(value, str) and not problems else None
    return [*problems, ("branch", f"invalid branch name {value!r}: {why}")] if why else problems


def _strings(options: dict[str, Any], key: str, where: str = "") -> Problems:
    path = f"{where}.{key}" if where else key
    value = options.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return [(path, "must be a list of non-empty strings")]
    return []


def _expression(value: Any, path: str) -> Problems:
    why = expressions.check(value) if isinstance(value, str) else None
    return [(path, why)] if why else []


CHECKERS: dict[str, Callable[[dict[str, Any]], Problems]] = {
    "pin": pin_options,
    "none": pin_options,
    "render-branch": render_branch_options,
    "copy-branch": copy_branch_options,
    "update-images": update_images_options,
    "update-app": update_app_options,
}
