"""What the git-writing mechanisms share: settings, the stage's repository and branch, git tools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from freightyard.shared.core.errors import ConfigError, MechanismError
from freightyard.shared.core.freight import same_repo
from freightyard.shared.core.params import app_repo_url
from freightyard.shared.gitops.messages import commit_message, evaluate
from freightyard.shared.gitops.runner import Author, GitRunner
from freightyard.shared.gitops.workspace import credentials_for
from freightyard.shared.mechanisms.base import PromotionContext
from freightyard.shared.sources.git import GitMirrors


@dataclass(frozen=True)
class GitTarget:
    """Where a mechanism writes: repository, branch, credentials name, and how to run git there."""

    repo_url: str
    branch: str
    credentials_name: str
    mirrors: GitMirrors
    runner: GitRunner
    attempts: int


def author(context: PromotionContext) -> Author:
    """The commit author: the stage's ``author`` option, else settings ``git_author``, else Freightyard."""
    for source in (context.stage.promotion.options.get("author"), context.settings.git_author):
        if isinstance(source, Author):
            return source
        if isinstance(source, dict) and (source.get("name") or source.get("email")):
            return Author(str(source.get("name") or Author.name), str(source.get("email") or Author.email))
    return Author()


def option(context: PromotionContext, key: str, default: str = "") -> str:
    """A string option with its expressions evaluated over the freight."""
    raw = context.stage.promotion.options.get(key)
    if raw is None or raw == "":
        return default
    return evaluate(
        str(raw),
        context.freight,
        context.stage.name,
        context.pipeline.name,
        f"stage {context.stage.name} promotion.{key}",
    )


def stage_repo(context: PromotionContext) -> str:
    """The repository a mechanism writes to: ``repoURL``, else the one repository of the stage's apps."""
    explicit = option(context, "repoURL")
    if explicit:
        return explicit
    repos: list[str] = []
    try:
        for app in context.stage.apps:
            url = app_repo_url(context.pipeline, app, context.freight)
            if not any(same_repo(url, seen) for seen in repos):
                repos.append(url)
        if not repos:
            gits = [g for origin in context.freight.origins for g in context.pipeline.warehouse(origin).git()]
            repos = [gits[0].repo_url] if len(gits) == 1 else []
    except ConfigError as error:
        raise MechanismError(f"stage {context.stage.name}: {error.message}") from error
    if len(repos) != 1:
        raise MechanismError(
            f"stage {context.stage.name}: cannot tell which git repository to write to "
            f"({len(repos)} candidates); set promotion.repoURL"
        )
    return repos[0]


def git_target(context: PromotionContext, repo_url: str, default_branch: str) -> GitTarget:
    """Mirrors and a runner with credentials for ``repo_url``; the branch from the options or the default."""
    name = option(context, "credentials") or context.pipeline.git_credentials_name(repo_url)
    lookup = context.settings.credential_lookup()
    mirrors = GitMirrors(Path(context.cache_dir), credentials=lookup)
    runner = GitRunner(Path(context.cache_dir), author(context), credentials_for(repo_url, name, lookup))
    attempts = context.stage.promotion.options.get("pushAttempts") or context.settings.attempts()
    return GitTarget(repo_url, option(context, "branch", default_branch), name, mirrors, runner, int(attempts))


def message(context: PromotionContext, details: tuple[str, ...] = ()) -> str:
    template = str(context.stage.promotion.options.get("commitMessage") or "")
    return commit_message(template, context.freight, context.stage.name, context.pipeline.name, details)


def source_revision(context: PromotionContext, repo_url: str, fallback: str = "") -> str:
    """The revision to read from: the freight's commit of ``repo_url``, else ``sourceRevision``, else ``fallback``."""
    commit = context.freight.commit_from(repo_url)
    if commit is not None:
        return commit.id
    return option(context, "sourceRevision", fallback)
