"""The demo's story: build a GitOps repo and an image layout, then drive the real CLI through it."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path

from freightyard.controller.demo.oci import add_image
from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.process import Request, run

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata:
  name: guestbook
spec:
  warehouses:
  - name: main
    interval: 1m
    subscriptions:
    - git:
        repoURL: {repo}
        branch: main
        includePaths: [apps/guestbook/]
    - image:
        repoURL: demo.local/guestbook
        imageSelectionStrategy: SemVer
        constraint: ^1.0.0
  - name: redis                      # a second warehouse: the cache image, promoted on its own
    interval: 1m
    subscriptions:
    - image:
        repoURL: demo.local/redis
        imageSelectionStrategy: SemVer
        constraint: ^7.0.0
  stages:
  - name: dev
    requestedFreight:                # one freight per origin: promoting one replaces only its own
    - {{origin: main, sources: {{direct: true}}}}
    - {{origin: redis, sources: {{direct: true}}}}
    autoPromotion: true
    apps:
    - name: guestbook
      path: apps/guestbook/overlays/dev
      destination: {{namespace: guestbook-dev}}
  - name: staging
    requestedFreight:
    - {{origin: main, sources: {{stages: [dev]}}}}
    - {{origin: redis, sources: {{stages: [dev]}}}}
    apps:
    - name: guestbook
      path: apps/guestbook/overlays/staging
      destination: {{namespace: guestbook-staging}}
  - name: hotfix                     # a second entry point close to prod; does nothing itself
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    promotion: {{mechanism: none}}
  - name: prod
    requestedFreight:
    - origin: main
      sources: {{stages: [staging, hotfix], requiredSoakTime: 1h}}
    - origin: redis
      sources: {{stages: [staging], requiredSoakTime: 1h}}
    verification:                    # a smoke check with the freight in its environment
      commands:
      - name: digest-pinned
        command: [python3, -c, "import os; assert '@sha256:' in os.environ['IMAGE_GUESTBOOK']"]
    apps:
    - name: guestbook
      path: apps/guestbook/overlays/prod
      destination: {{namespace: guestbook-prod}}
"""

BASE = {
    "kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: guestbook}
spec:
  replicas: 1
  selector: {matchLabels: {app: guestbook}}
  template:
    metadata: {labels: {app: guestbook}}
    spec:
      containers:
      - name: guestbook
        image: demo.local/guestbook
        ports: [{containerPort: 8080}]
      - name: cache
        image: demo.local/redis
""",
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: guestbook}
spec:
  selector: {app: guestbook}
  ports: [{port: 80, targetPort: 8080}]
""",
}


def overlay(stage: str, replicas: int) -> str:
    return (
        f"resources: [../../base]\nnamespace: guestbook-{stage}\n"
        "patches:\n- target: {kind: Deployment, name: guestbook}\n"
        f'  patch: \'[{{"op": "replace", "path": "/spec/replicas", "value": {replicas}}}]\'\n'
    )


def git(repo: Path, *args: str) -> str:
    outcome = run(
        Request(
            ("git", *args),
            cwd=str(repo),
            timeout=30,
            env={
                "GIT_AUTHOR_NAME": "Demo",
                "GIT_AUTHOR_EMAIL": "demo@example.com",
                "GIT_COMMITTER_NAME": "Demo",
                "GIT_COMMITTER_EMAIL": "demo@example.com",
            },
        )
    )
    if not outcome.ok:
        raise FreightyardError(f"demo: git {' '.join(args)}: {outcome.reason()}")
    return outcome.text().strip()


def build_repo(repo: Path) -> None:
    base = repo / "apps" / "guestbook" / "base"
    base.mkdir(parents=True)
    for name, text in BASE.items():
        (base / name).write_text(text)
    for stage, replicas in (("dev", 1), ("staging", 2), ("prod", 3)):
        directory = repo / "apps" / "guestbook" / "overlays" / stage
        directory.mkdir(parents=True)
        (directory / "kustomization.yaml").write_text(overlay(stage, replicas))
    (repo / "pipelines").mkdir()
    (repo / "pipelines" / "guestbook.yaml").write_text(PIPELINE.format(repo=repo))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "guestbook: base and overlays")


class Demo:
    def __init__(self, workdir: Path, cli: Callable[[list[str]], int], say: Callable[[str], None]) -> None:
        self.workdir = workdir
        self.repo = workdir / "gitops"
        self.layout = workdir / "oci" / "guestbook"
        self.redis = workdir / "oci" / "redis"
        self.cli = cli
        self.say = say
        state = workdir / "state" / "freightyard-{pipeline}.yaml"
        self.common = ["--pipelines", str(self.repo / "pipelines"), "--state", f"file:{state}"]

    def run(self, *args: str, expect_failure: bool = False) -> int:
        argv = (
            [*args[:1], *self.common, *args[1:]]
            if args[0] != "freight"
            else [args[0], args[1], *self.common, *args[2:]]
        )
        if args[0] in ("discover", "controller"):
            argv += ["--oci-layout", f"demo.local={self.workdir / 'oci'}"]
        if args[0] == "controller":
            argv = ["--log-level", "INFO", *argv]  # its story is told in its log
        self.say(f"\n$ freightyard {' '.join(shlex.quote(a) for a in args)}")
        code = self.cli(argv)
        if (code != 0) != expect_failure:
            raise FreightyardError(f"demo: 'freightyard {' '.join(args)}' exited {code} unexpectedly")
        return code

    def story(self) -> None:
        say = self.say
        say(f"Freightyard demo in {self.workdir} — no cluster: a local git repo, an OCI layout, a state file.")
        build_repo(self.repo)
        add_image(self.layout, "1.0.0", "guestbook 1.0.0", "2026-01-01T00:00:00Z")
        add_image(self.redis, "7.2.0", "redis 7.2.0", "2026-01-01T00:00:00Z")
        say("\n# 1. Validate the pipeline (dev -> staging -> prod, plus a hotfix lane straight into prod).")
        self.run("validate")
        say("\n# 2. Discover: warehouse main sees the repo's main branch and image guestbook 1.0.0,")
        say("#    warehouse redis sees redis 7.2.0: one freight each.")
        self.run("discover")
        self.run("freight", "list")
        first, cache = self._newest("main"), self._newest("redis")
        say(
            "\n# 3. Promote both through dev and staging; each stage holds one freight per origin. No "
            "verification is configured, so each promotion verifies it there."
        )
        self.run("promote", first, "dev")
        self.run("promote", cache, "dev")
        self.run("promote", "--from", "dev", "staging")  # the whole collection dev holds, as one unit
        say("\n# 4. prod wants 1h of soak in staging (or hotfix): not yet, and the CLI says why.")
        self.run("promote", first, "prod", expect_failure=True)
        say("\n# 5. A hotfix: image 1.0.1 is pushed; new freight enters the hotfix lane directly.")
        add_image(self.layout, "1.0.1", "guestbook 1.0.1 (hotfix)", "2026-01-02T00:00:00Z")
        self.run("discover")
        hotfix = self._newest("main")
        self.run("promote", hotfix, "hotfix")
        say("\n# 6. Still soaking, so a human approves the hotfix for prod; then it promotes.")
        self.run("promote", hotfix, "prod", expect_failure=True)
        self.run("approve", hotfix, "prod", "--by", "user:oncall", "--reason", "hotfix for the login outage")
        self.run("promote", hotfix, "prod", "--by", "user:oncall")
        say("#    prod needs the cache too; its freight comes from staging (approved past the soak as well).")
        self.run("approve", cache, "prod", "--by", "user:oncall", "--reason", "cache for the hotfix")
        self.run("promote", cache, "prod", "--by", "user:oncall")
        say("\n# 7. prod has a check: run it (the controller does this by itself after each promotion).")
        self.run("verify", "prod")
        self._render_prod()
        say("\n# 8. A comment-only commit to the app makes new freight, but prod renders exactly the same:")
        say("#    the promotion is a no-op (nothing for Argo CD to sync) and verification is skipped.")
        base = self.repo / "apps" / "guestbook" / "base" / "kustomization.yaml"
        base.write_text(base.read_text() + "# the guestbook web front end\n")
        git(self.repo, "commit", "--quiet", "-am", "docs: describe the guestbook base")
        self.run("discover")
        docs = self._newest("main")
        self.run("diff", docs, "prod")
        self.run("approve", docs, "prod", "--by", "user:oncall", "--reason", "comment-only change")
        self.run("promote", docs, "prod", "--by", "user:oncall")
        say("\n# 9. dev has autoPromotion: one pass of the controller (normally a Deployment, looping and")
        say("#    woken by webhooks) discovers, and promotes the newest eligible freight into dev by itself.")
        self.run("controller", "--once", "--listen", "off")
        say("\n# 10. What the ApplicationSet generator answers Argo CD: one Application per stage and app.")
        self.run("apps")
        say("\n# 11. Where everything is now.")
        self.run("status")
        say(f"\nState (a ConfigMap document): {self.workdir / 'state' / 'freightyard-guestbook.yaml'}")
        say("\nSee the pipeline as a graph (then open the printed address):")
        say(f"  freightyard ui -f {self.repo / 'pipelines'} --state file:{self.workdir / 'state'}")

    def _render_prod(self) -> None:
        self.say("\n# What prod's Application renders (exactly the CMP's output): the image pinned by digest.")
        self.run("render", "guestbook", "prod")

    def _newest(self, origin: str) -> str:
        from freightyard.shared.engine.promotion import Engine
        from freightyard.shared.pipeline_files import load_pipelines
        from freightyard.shared.stores.factory import store_from_spec

        pipeline = load_pipelines(self.repo / "pipelines")[0]
        state = Engine(pipeline, store_from_spec(self.common[3], pipeline)).state()
        return next(f for f in state.freight.values() if f.origin == origin).alias


def run_demo(keep: str | None, cli: Callable[[list[str]], int], say: Callable[[str], None]) -> Path:
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="freightyard-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise FreightyardError(f"demo: {workdir} is not empty (give an empty or new directory)")
    os.environ["FREIGHTYARD_CACHE"] = str(workdir / "cache")
    Demo(workdir, cli, say).story()
    return workdir
