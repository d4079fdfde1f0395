"""Discovery speed and economy against real local servers, measured in one run.

1. Newest SemVer tag of a 5,000-tag repository in Debian's ``docker-registry``: Freightyard's image
   discovery (tag list + digest of the winner) vs ``skopeo list-tags`` of the same repository
   (which only lists). Reports the time ratio and Freightyard's request count.
2. Warm git discovery with ``includePaths`` in a 5,000-commit monorepo served by ``git daemon``:
   Freightyard (a ref-advertisement check against the remote, read in-process, then the answer) vs
   ``git log -1 -- PATH``
   run directly in the repository. Reports the time ratio (target for both: <= 1.5).

Run: ``python bench/bench_discovery.py`` (starts and stops its own servers; ~1-2 minutes).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from freightyard.shared.core.model import GitSubscription, ImageSubscription
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.sources.factory import DefaultSources
from freightyard.shared.sources.git import GitCliSource, GitMirrors
from tests.servers.git_daemon import GitDaemon
from tests.servers.git_http import git, git_env
from tests.servers.oci import push_many_tags
from tests.servers.registry import Registry
from tests.servers.tools import git_path, skopeo_path

TAGS = 5000
COMMITS = 5000
APPS = 100
TARGET = "apps/app042"  # a busy app: changed every ~100 commits
RARE = "apps/legacy"  # a quiet app: last changed thousands of commits ago
RUNS = 21


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    action()  # warm-up (imports, page cache)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def semver_tags(count: int) -> list[str]:
    tags = [f"{a}.{b}.{c}" for a in range(1, 6) for b in range(40) for c in range(25)][: count - 100]
    tags += [f"build-{i:04d}" for i in range(50)] + [f"2.0.0-rc.{i}" for i in range(50)]
    random.Random(7).shuffle(tags)  # noqa: S311 - a reproducible shuffle, not a secret
    return tags


def bench_registry(registry: Registry, tmp: Path) -> dict[str, float]:
    repo = "bench/many-tags"
    tags = semver_tags(TAGS)
    started = time.perf_counter()
    digests = push_many_tags(registry.url, repo, tags, distinct_manifests=5, workers=32)
    print(f"  pushed {len(tags)} tags in {time.perf_counter() - started:.1f}s")
    counts: list[int] = []

    def discovery(constraint: str, winner: str) -> Callable[[], None]:
        sub = ImageSubscription(f"{registry.host}/{repo}", constraint=constraint)

        def run() -> None:
            sources = DefaultSources(
                cache_dir=tmp,
                credentials=EnvFileCredentials(env={}, secrets_dir=None),
                insecure_hosts=frozenset({registry.host}),
            )
            [image] = sources.image(sub).images(sub, 1)
            assert (image.tag, image.digest) == (winner, digests[winner]), image
            counts.append(sources.http.requests_sent)

        return run

    skopeo = skopeo_path()

    def list_tags() -> None:
        subprocess.run(
            [skopeo, "list-tags", "--tls-verify=false", f"docker://{registry.host}/{repo}"],
            check=True,
            capture_output=True,
        )

    plain = [tuple(int(p) for p in t.split(".")) for t in tags if t[0].isdigit() and "-" not in t]
    newest, newest_1x = (".".join(map(str, max(v for v in plain if v[0] <= m))) for m in (99, 1))
    ours, theirs = median_ms(discovery("", newest)), median_ms(list_tags)
    deep = median_ms(discovery("^1.0", newest_1x))  # passes over the ~3,900 newer versions first
    return {
        "ours_ms": ours,
        "skopeo_ms": theirs,
        "ratio": ours / theirs,
        "requests": float(max(counts)),
        "deep_ms": deep,
        "deep_ratio": deep / theirs,
    }


def fast_import_stream(commits: int) -> bytes:
    """A linear history: each commit changes one of APPS app dirs (RARE only in commits 1 and 700)."""
    rng = random.Random(42)  # noqa: S311 - reproducible history, not a secret
    lines: list[str] = []
    for n in range(1, commits + 1):
        app = RARE if n in (1, 700) else f"apps/app{rng.randrange(APPS):03d}"
        message = f"change {app} #{n}"
        content = f"{n}\n"
        lines += [
            "commit refs/heads/main",
            f"mark :{n}",
            f"committer Bench <bench@freightyard.invalid> {1_700_000_000 + n * 60} +0000",
            f"data {len(message)}",
            message,
        ]
        if n > 1:
            lines.append(f"from :{n - 1}")
        lines += [f"M 100644 inline {app}/deploy.yaml", f"data {len(content)}", content.rstrip("\n"), ""]
    return ("\n".join(lines) + "\n").encode()


def make_monorepo(daemon: GitDaemon) -> Path:
    bare = daemon.base_path / "mono.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    subprocess.run(
        [git_path(), "--git-dir", str(bare), "fast-import", "--quiet"],
        input=fast_import_stream(COMMITS),
        check=True,
        env=git_env(),
    )
    git("--git-dir", str(bare), "gc", "--quiet")  # what a server does: packs and a commit-graph
    return bare


def bench_git(daemon: GitDaemon, bare: Path, path: str, tmp: Path) -> dict[str, float]:
    expected = git("--git-dir", str(bare), "log", "-1", "--format=%H", "--", path)
    depth = int(git("--git-dir", str(bare), "rev-list", "--count", f"{expected}..main"))
    sub = GitSubscription(daemon.repo_url("mono.git"), include_paths=(f"{path}/",))
    mirrors = GitMirrors(tmp / "cache", credentials=EnvFileCredentials(env={}, secrets_dir=None))
    warm = GitCliSource(mirrors)
    started = time.perf_counter()
    assert [c.id for c in warm.commits(sub, 1)] == [expected]
    print(
        f"  {path}: last changed {depth} commits before the tip; first discovery (mirror fetch + "
        f"commit-graph, or reuse): {(time.perf_counter() - started) * 1000:.0f} ms"
    )

    def freightyard() -> None:
        assert warm.commits(sub, 1)[0].id == expected

    def fresh_process_state() -> None:  # same mirror on disk, nothing memoised in memory
        assert GitCliSource(mirrors).commits(sub, 1)[0].id == expected

    def git_log() -> None:
        subprocess.run(
            [git_path(), "--git-dir", str(bare), "log", "-1", "--format=%H", "--", path],
            check=True,
            capture_output=True,
            env=git_env(),
        )

    trips = mirrors.round_trips
    ours = median_ms(freightyard)
    per_run = (mirrors.round_trips - trips) / (RUNS + 1)
    fresh = median_ms(fresh_process_state)
    theirs = median_ms(git_log)
    return {
        "ours_ms": ours,
        "fresh_ms": fresh,
        "git_log_ms": theirs,
        "ratio": ours / theirs,
        "fresh_ratio": fresh / theirs,
        "round_trips": per_run,
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fy-bench-") as name:
        tmp = Path(name)
        os.environ.setdefault("FREIGHTYARD_CACHE", str(tmp / "cache"))
        print(f"registry: newest SemVer tag among {TAGS} tags")
        with Registry("anonymous", workdir=tmp / "registry") as registry:
            image = bench_registry(registry, tmp)
        print(
            f"  freightyard {image['ours_ms']:.1f} ms ({image['requests']:.0f} requests: tag list + HEAD of the "
            f"winner) vs skopeo list-tags {image['skopeo_ms']:.1f} ms -> ratio {image['ratio']:.2f}"
        )
        print(
            f"  with constraint ^1.0 (winner below ~3,900 newer versions): {image['deep_ms']:.1f} ms "
            f"-> ratio {image['deep_ratio']:.2f}"
        )
        print(f"git: warm discovery with includePaths in a {COMMITS}-commit repo (git daemon)")
        ok = image["ratio"] <= 1.5
        with GitDaemon(tmp / "git") as daemon:
            bare = make_monorepo(daemon)
            for path in (RARE, TARGET):
                result = bench_git(daemon, bare, path, tmp)
                print(
                    f"  freightyard warm {result['ours_ms']:.1f} ms ({result['round_trips']:.0f} round trip: "
                    f"ref check) vs git log -1 -- {path} {result['git_log_ms']:.1f} ms "
                    f"-> ratio {result['ratio']:.2f}"
                )
                print(f"  (new process, same mirror: {result['fresh_ms']:.1f} ms -> ratio {result['fresh_ratio']:.2f})")
                ok = ok and result["ratio"] <= 1.5
        print("targets (both ratios <= 1.5):", "met" if ok else "NOT met")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
