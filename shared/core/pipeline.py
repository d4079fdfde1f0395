"""Parse and validate Pipeline documents, reporting every problem as ``file:line: path: what (fix)``.

Pure: takes text, returns model objects or raises ``ConfigError`` listing all problems at once.
Reading files and checking app paths on disk is ``freightyard.shared.pipeline_files``.
"""

from __future__ import annotations

import difflib
import re

import yaml

from freightyard.shared.core import expressions, mechanism_options, safe_yaml, urls, windows
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.freight import normalize_repo
from freightyard.shared.core.model import (
    COMMIT_STRATEGIES,
    IMAGE_STRATEGIES,
    App,
    ApprovalRule,
    ChartSubscription,
    Destination,
    GitSubscription,
    HelmImageValue,
    ImageSubscription,
    Pipeline,
    Promotion,
    RequestedFreight,
    Sources,
    Stage,
    StateRef,
    Subscription,
    Verification,
    Warehouse,
    Window,
)
from freightyard.shared.core.regex import RegexError, compile_regex
from freightyard.shared.core.selection import extract_references
from freightyard.shared.core.yaml_reader import Reader, is_null

API_VERSION = "freightyard.io/v1alpha1"
KIND = "Pipeline"
MIN_INTERVAL_S = 10  # discovery more often than this only hammers the sources
KNOWN_MECHANISMS = ("pin", "none", "render-branch", "copy-branch", "update-images", "update-app")


def parse_pipelines(text: str, filename: str = "<pipeline>") -> list[Pipeline]:
    """Parse every ``Pipeline`` document in ``text`` (other kinds are skipped)."""
    reader = Reader(filename)
    documents = safe_yaml.compose_all(text, filename)  # bounded: size, depth, aliases, plain tags only
    pipelines = []
    for document in documents:
        if document is None or not isinstance(document, yaml.MappingNode):
            continue
        kind = next((v.value for k, v in document.value if k.value == "kind"), None)
        if kind != KIND:
            continue
        reader.lines = {}
        pipeline = _pipeline(reader, document)
        if pipeline is not None:
            pipelines.append(pipeline)
    names = [p.name for p in pipelines]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        reader.problem(None, "metadata.name", f'pipeline "{duplicate}" is defined twice (rename one)')
    if reader.problems:
        raise ConfigError(reader.problems)
    return pipelines


_NAME_LINE = re.compile(
    r"^metadata:[ \t]*(?:\{[^}\n]*?\bname:[ \t]*|\n(?:[ \t]+\S.*\n)*?[ \t]+name:[ \t]*)[\"']?([a-z0-9-]{1,63})", re.M
)


def declared_names(text: str) -> tuple[str, ...]:
    """The names of the Pipelines ``text`` means to define, even when it does not validate.

    So a server can answer "this pipeline is invalid: ..." for exactly that name. From the node
    tree when the YAML composes, else from ``metadata: name:`` lines (best effort).
    """
    try:
        documents = safe_yaml.compose_all(text, "<names>")
    except ConfigError:
        return tuple(dict.fromkeys(_NAME_LINE.findall(text)))
    names = []
    for document in documents:
        if not isinstance(document, yaml.MappingNode):
            continue
        top = {k.value: v for k, v in document.value if isinstance(k, yaml.ScalarNode)}
        kind, meta = top.get("kind"), top.get("metadata")
        if not isinstance(kind, yaml.ScalarNode) or kind.value != KIND or not isinstance(meta, yaml.MappingNode):
            continue
        for key, value in meta.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "name" and isinstance(value, yaml.ScalarNode):
                names.append(str(value.value))
    return tuple(dict.fromkeys(names))


def _pipeline(r: Reader, node: yaml.Node) -> Pipeline | None:
    top = r.mapping(node, "", ("apiVersion", "kind", "metadata", "spec"), ("apiVersion", "metadata", "spec"))
    if "apiVersion" in top and r.string(top["apiVersion"], "apiVersion") != API_VERSION:
        r.problem(top["apiVersion"], "apiVersion", f'must be "{API_VERSION}"')
    meta = (
        r.mapping(top["metadata"], "metadata", ("name", "namespace", "labels", "annotations"), ("name",))
        if "metadata" in top
        else {}
    )
    name = r.name(meta.get("name"), "metadata.name")
    if "spec" not in top:
        return None
    spec = r.mapping(top["spec"], "spec", ("state", "warehouses", "stages"), ("warehouses", "stages"))
    state = _state(r, spec.get("state"), name)
    warehouses = tuple(
        _warehouse(r, item, f"spec.warehouses[{i}]")
        for i, item in enumerate(r.sequence(spec.get("warehouses"), "spec.warehouses"))
    )
    stages = tuple(
        _stage(r, item, f"spec.stages[{i}]") for i, item in enumerate(r.sequence(spec.get("stages"), "spec.stages"))
    )
    pipeline = Pipeline(
        name=name, warehouses=warehouses, stages=stages, state=state, source_file=r.filename, lines=dict(r.lines)
    )
    _check_references(r, pipeline)
    return pipeline


def _state(r: Reader, node: yaml.Node | None, pipeline_name: str) -> StateRef:
    default = StateRef(name=f"freightyard-{pipeline_name}")
    if node is None:
        return default
    state = r.mapping(node, "spec.state", ("configMap",))
    if "configMap" not in state:
        return default
    cm = r.mapping(state["configMap"], "spec.state.configMap", ("name", "namespace"))
    return StateRef(
        name=r.name(cm.get("name"), "spec.state.configMap.name") or default.name,
        namespace=r.name(cm.get("namespace"), "spec.state.configMap.namespace") or "argocd",
    )


def _warehouse(r: Reader, node: yaml.Node, path: str) -> Warehouse:
    w = r.mapping(node, path, ("name", "interval", "subscriptions"), ("name", "subscriptions"))
    subs: list[Subscription] = []
    for i, item in enumerate(r.sequence(w.get("subscriptions"), f"{path}.subscriptions")):
        sub = _subscription(r, item, f"{path}.subscriptions[{i}]")
        if sub is not None:
            subs.append(sub)
    if "subscriptions" in w and not subs and not r.problems:
        r.problem(w["subscriptions"], f"{path}.subscriptions", "needs at least one git, image or chart subscription")
    interval = r.duration(w.get("interval"), f"{path}.interval", 300)
    if interval < MIN_INTERVAL_S:
        r.problem(
            w.get("interval"), f"{path}.interval", f"must be at least {MIN_INTERVAL_S}s (webhooks make it faster)"
        )
        interval = MIN_INTERVAL_S
    return Warehouse(name=r.name(w.get("name"), f"{path}.name"), subscriptions=tuple(subs), interval_seconds=interval)


def _repo_url(r: Reader, node: yaml.Node | None, path: str) -> str:
    value = r.string(node, path)
    why = urls.userinfo_problem(value)
    if why:
        r.problem(node, path, why)
    return value


def _filter_tags(r: Reader, node: yaml.Node | None, path: str) -> tuple[str, str]:
    """Flux's ``filterTags: {pattern, extract}``; every group ``extract`` names must exist in ``pattern``."""
    if node is None:
        return "", ""
    f = r.mapping(node, path, ("pattern", "extract"), ("pattern",))
    pattern = r.string(f.get("pattern"), f"{path}.pattern")
    extract = r.string(f.get("extract"), f"{path}.extract")
    try:
        compiled = compile_regex(pattern)
    except RegexError as error:
        r.problem(f.get("pattern") or node, f"{path}.pattern", f"invalid regular expression {pattern!r}: {error}")
        return pattern, extract
    groups = compiled.groupindex
    for name in extract_references(extract):
        if not ((name.isdigit() and int(name) <= max([0, *groups.values()])) or name in groups):
            r.problem(f.get("extract") or node, f"{path}.extract", f"${name} is not a group of pattern {pattern!r}")
    return pattern, extract


def _subscription(r: Reader, node: yaml.Node, path: str) -> Subscription | None:
    kinds = r.mapping(node, path, ("git", "image", "chart"))
    if len(kinds) != 1:
        if kinds or (isinstance(node, yaml.MappingNode) and not node.value):
            r.problem(node, path, "must have exactly one of git, image or chart")
        return None
    kind, body = next(iter(kinds.items()))
    p = f"{path}.{kind}"
    if kind == "git":
        g = r.mapping(
            body,
            p,
            (
                "repoURL",
                "branch",
                "commitSelectionStrategy",
                "semverConstraint",
                "allowTags",
                "ignoreTags",
                "allowTagsRegexes",
                "ignoreTagsRegexes",
                "strictSemvers",
                "includePaths",
                "excludePaths",
                "discoveryLimit",
                "insecureSkipTLSVerify",
                "credentials",
            ),
            ("repoURL",),
        )
        return GitSubscription(
            repo_url=_repo_url(r, g.get("repoURL"), f"{p}.repoURL"),
            branch=r.branch(g.get("branch"), f"{p}.branch"),
            strategy=r.choice(
                g.get("commitSelectionStrategy"), f"{p}.commitSelectionStrategy", COMMIT_STRATEGIES, "NewestFromBranch"
            ),
            semver_constraint=r.constraint(g.get("semverConstraint"), f"{p}.semverConstraint"),
            allow_tags=r.regex(g.get("allowTags"), f"{p}.allowTags"),
            ignore_tags=r.regexes(g.get("ignoreTags"), f"{p}.ignoreTags"),
            allow_tags_regexes=r.regexes(g.get("allowTagsRegexes"), f"{p}.allowTagsRegexes"),
            ignore_tags_regexes=r.regexes(g.get("ignoreTagsRegexes"), f"{p}.ignoreTagsRegexes"),
            strict_semvers=r.boolean(g.get("strictSemvers"), f"{p}.strictSemvers", True),
            include_paths=r.path_list(g.get("includePaths"), f"{p}.includePaths"),
            exclude_paths=r.path_list(g.get("excludePaths"), f"{p}.excludePaths"),
            discovery_limit=r.integer(g.get("discoveryLimit"), f"{p}.discoveryLimit", 20, 1),
            insecure_skip_tls_verify=r.boolean(g.get("insecureSkipTLSVerify"), f"{p}.insecureSkipTLSVerify"),
            credentials_secret=r.string(g.get("credentials"), f"{p}.credentials"),
        )
    if kind == "image":
        m = r.mapping(
            body,
            p,
            (
                "repoURL",
                "imageSelectionStrategy",
                "constraint",
                "semverConstraint",
                "allowTags",
                "ignoreTags",
                "allowTagsRegexes",
                "ignoreTagsRegexes",
                "platform",
                "strictSemvers",
                "filterTags",
                "order",
                "tagFrom",
                "lookBack",
                "discoveryLimit",
                "insecure",
                "credentials",
            ),
            ("repoURL",),
        )
        strategy = r.choice(m.get("imageSelectionStrategy"), f"{p}.imageSelectionStrategy", IMAGE_STRATEGIES, "SemVer")
        constraint_key = "constraint" if "constraint" in m else "semverConstraint"
        constraint = (
            r.constraint(m.get(constraint_key), f"{p}.{constraint_key}")
            if strategy == "SemVer"
            else r.string(m.get(constraint_key), f"{p}.{constraint_key}")
        )
        filter_pattern, filter_extract = _filter_tags(r, m.get("filterTags"), f"{p}.filterTags")
        return ImageSubscription(
            repo_url=_repo_url(r, m.get("repoURL"), f"{p}.repoURL"),
            strategy=strategy,
            constraint=constraint,
            allow_tags=r.regex(m.get("allowTags"), f"{p}.allowTags"),
            ignore_tags=r.regexes(m.get("ignoreTags"), f"{p}.ignoreTags"),
            allow_tags_regexes=r.regexes(m.get("allowTagsRegexes"), f"{p}.allowTagsRegexes"),
            ignore_tags_regexes=r.regexes(m.get("ignoreTagsRegexes"), f"{p}.ignoreTagsRegexes"),
            platform=r.platform(m.get("platform"), f"{p}.platform"),
            strict_semvers=r.boolean(m.get("strictSemvers"), f"{p}.strictSemvers", True),
            filter_pattern=filter_pattern,
            filter_extract=filter_extract,
            order=r.choice(m.get("order"), f"{p}.order", ("asc", "desc"), "asc"),
            tag_from=r.expression(m.get("tagFrom"), f"{p}.tagFrom", expressions.TAG_FROM_NAMES),
            look_back=r.integer(m.get("lookBack"), f"{p}.lookBack", 20, 1),
            discovery_limit=r.integer(m.get("discoveryLimit"), f"{p}.discoveryLimit", 20, 1),
            insecure=r.boolean(m.get("insecure"), f"{p}.insecure"),
            credentials_secret=r.string(m.get("credentials"), f"{p}.credentials"),
        )
    c = r.mapping(
        body, p, ("repoURL", "name", "semverConstraint", "discoveryLimit", "insecure", "credentials"), ("repoURL",)
    )
    repo_url = _repo_url(r, c.get("repoURL"), f"{p}.repoURL")
    name = r.string(c.get("name"), f"{p}.name")
    if repo_url.startswith(("http://", "https://")) and not name:
        r.problem(body, f"{p}.name", "is required for an HTTP chart repository")
    return ChartSubscription(
        repo_url=repo_url,
        name=name or repo_url.rstrip("/").rsplit("/", 1)[-1],
        semver_constraint=r.constraint(c.get("semverConstraint"), f"{p}.semverConstraint"),
        discovery_limit=r.integer(c.get("discoveryLimit"), f"{p}.discoveryLimit", 20, 1),
        insecure=r.boolean(c.get("insecure"), f"{p}.insecure"),
        credentials_secret=r.string(c.get("credentials"), f"{p}.credentials"),
    )


def _stage(r: Reader, node: yaml.Node, path: str) -> Stage:
    s = r.mapping(
        node,
        path,
        ("name", "requestedFreight", "autoPromotion", "promotion", "verification", "apps", "approval", "windows"),
        ("name", "requestedFreight"),
    )
    requested = []
    for i, item in enumerate(r.sequence(s.get("requestedFreight"), f"{path}.requestedFreight")):
        p = f"{path}.requestedFreight[{i}]"
        rf = r.mapping(item, p, ("origin", "sources"), ("origin", "sources"))
        src = (
            r.mapping(rf["sources"], f"{p}.sources", ("direct", "stages", "availability", "requiredSoakTime"))
            if "sources" in rf
            else {}
        )
        sources = Sources(
            direct=r.boolean(src.get("direct"), f"{p}.sources.direct"),
            stages=r.strings(src.get("stages"), f"{p}.sources.stages"),
            availability=r.choice(src.get("availability"), f"{p}.sources.availability", ("OneOf", "All"), "OneOf"),
            required_soak_seconds=r.duration(src.get("requiredSoakTime"), f"{p}.sources.requiredSoakTime"),
        )
        if "sources" in rf and not sources.direct and not sources.stages:
            r.problem(rf["sources"], f"{p}.sources", "needs direct: true and/or stages: [...]")
        requested.append(RequestedFreight(origin=r.string(rf.get("origin"), f"{p}.origin"), sources=sources))
    apps = tuple(_app(r, item, f"{path}.apps[{i}]") for i, item in enumerate(r.sequence(s.get("apps"), f"{path}.apps")))
    return Stage(
        name=r.name(s.get("name"), f"{path}.name"),
        requested_freight=tuple(requested),
        auto_promotion=r.boolean(s.get("autoPromotion"), f"{path}.autoPromotion"),
        promotion=_promotion(r, s.get("promotion"), f"{path}.promotion"),
        verification=_verification(r, s.get("verification"), f"{path}.verification"),
        apps=apps,
        approval=_approval(r, s.get("approval"), f"{path}.approval"),
        windows=tuple(
            _window(r, item, f"{path}.windows[{i}]")
            for i, item in enumerate(r.sequence(s.get("windows"), f"{path}.windows"))
        ),
    )


def _approval(r: Reader, node: yaml.Node | None, path: str) -> ApprovalRule | None:
    if node is None or is_null(node):
        return None
    a = r.mapping(node, path, ("required", "groups", "separateFromPromoter"))
    return ApprovalRule(
        required=r.integer(a.get("required"), f"{path}.required", 1, 1),
        groups=r.strings(a.get("groups"), f"{path}.groups"),
        separate_from_promoter=r.boolean(a.get("separateFromPromoter"), f"{path}.separateFromPromoter"),
    )


def _window(r: Reader, node: yaml.Node, path: str) -> Window:
    w = r.mapping(node, path, ("kind", "schedule", "duration", "timeZone"), ("kind", "schedule", "duration"))
    window = Window(
        kind=r.choice(w.get("kind"), f"{path}.kind", ("allow", "deny"), "deny"),
        schedule=r.string(w.get("schedule"), f"{path}.schedule"),
        duration_seconds=r.duration(w.get("duration"), f"{path}.duration"),
        time_zone=r.string(w.get("timeZone"), f"{path}.timeZone", "UTC"),
    )
    if "schedule" in w:
        problem = windows.schedule_problem(window.schedule)
        if problem:
            r.problem(w["schedule"], f"{path}.schedule", problem)
    if "timeZone" in w:
        problem = windows.zone_problem(window.time_zone)
        if problem:
            r.problem(w["timeZone"], f"{path}.timeZone", problem)
    if "duration" in w and window.duration_seconds <= 0:
        r.problem(w["duration"], f"{path}.duration", "must be longer than 0s (e.g. 8h)")
    return window


def _promotion(r: Reader, node: yaml.Node | None, path: str) -> Promotion:
    if node is None or is_null(node):
        return Promotion()
    if not isinstance(node, yaml.MappingNode):
        r.problem(node, path, "must be a mapping with a mechanism")
        return Promotion()
    raw = safe_yaml.construct(node, r.filename) or {}
    mechanism = str(raw.pop("mechanism", "pin"))
    if mechanism not in KNOWN_MECHANISMS:
        r.problem(node, f"{path}.mechanism", f'unknown mechanism "{mechanism}" (known: {", ".join(KNOWN_MECHANISMS)})')
    for key, why in mechanism_options.validate(mechanism, raw):  # each mechanism checks its own options
        r.problem(node, f"{path}.{key}", why)
    leak = urls.userinfo_problem(raw["repoURL"]) if isinstance(raw.get("repoURL"), str) else None
    if leak:
        r.problem(node, f"{path}.repoURL", leak)
    return Promotion(mechanism=mechanism, options=raw)


def _verification(r: Reader, node: yaml.Node | None, path: str) -> Verification | None:
    if node is None or is_null(node):
        return None
    v = r.mapping(node, path, ("argocd", "commands", "http", "skipWhenUnchanged", "timeout", "onFailure"))
    argocd = r.mapping(v["argocd"], f"{path}.argocd", ("healthy",)) if "argocd" in v else {}
    commands = []
    for i, item in enumerate(r.sequence(v.get("commands"), f"{path}.commands")):
        c = r.mapping(item, f"{path}.commands[{i}]", ("name", "command", "timeout", "env"), ("command",))
        argv = r.strings(c.get("command"), f"{path}.commands[{i}].command")
        if "command" in c and not argv:
            r.problem(c["command"], f"{path}.commands[{i}].command", "must be a non-empty list (argv, no shell)")
        commands.append(
            {
                "name": r.string(c.get("name"), f"{path}.commands[{i}].name"),
                "command": list(argv),
                "timeout": r.duration(c.get("timeout"), f"{path}.commands[{i}].timeout", 60),
                "env": r.string_map(c.get("env"), f"{path}.commands[{i}].env"),
            }
        )
    checks = []
    for i, item in enumerate(r.sequence(v.get("http"), f"{path}.http")):
        h = r.mapping(
            item, f"{path}.http[{i}]", ("name", "url", "method", "expectedStatus", "bodyContains", "timeout"), ("url",)
        )
        checks.append(
            {
                "name": r.string(h.get("name"), f"{path}.http[{i}].name"),
                "url": r.expression(h.get("url"), f"{path}.http[{i}].url"),
                "method": r.choice(h.get("method"), f"{path}.http[{i}].method", ("GET", "HEAD", "POST"), "GET"),
                "expectedStatus": r.integer(h.get("expectedStatus"), f"{path}.http[{i}].expectedStatus", 200),
                "bodyContains": r.string(h.get("bodyContains"), f"{path}.http[{i}].bodyContains"),
                "timeout": r.duration(h.get("timeout"), f"{path}.http[{i}].timeout", 10),
            }
        )
    return Verification(
        argocd_healthy=r.boolean(argocd.get("healthy"), f"{path}.argocd.healthy"),
        commands=tuple(commands),
        http=tuple(checks),
        skip_when_unchanged=r.boolean(v.get("skipWhenUnchanged"), f"{path}.skipWhenUnchanged", True),
        timeout_seconds=r.duration(v.get("timeout"), f"{path}.timeout", 300),
        on_failure=r.choice(v.get("onFailure"), f"{path}.onFailure", ("rollback", "hold"), "hold")
        if "onFailure" in v
        else "",
    )


def _app(r: Reader, node: yaml.Node, path: str) -> App:
    a = r.mapping(
        node, path, ("name", "path", "repoURL", "targetRevision", "project", "destination", "helm"), ("name", "path")
    )
    d = (
        r.mapping(a["destination"], f"{path}.destination", ("server", "name", "namespace"))
        if "destination" in a
        else {}
    )
    h = r.mapping(a["helm"], f"{path}.helm", ("releaseName", "valuesFiles", "images")) if "helm" in a else {}
    images = []
    for i, item in enumerate(r.sequence(h.get("images"), f"{path}.helm.images")):
        m = r.mapping(item, f"{path}.helm.images[{i}]", ("key", "value"), ("key", "value"))
        images.append(
            HelmImageValue(
                key=r.string(m.get("key"), f"{path}.helm.images[{i}].key"),
                value=r.expression(m.get("value"), f"{path}.helm.images[{i}].value"),
            )
        )
    app_path = r.string(a.get("path"), f"{path}.path")
    if app_path.startswith("/") or ".." in app_path.split("/"):
        r.problem(a.get("path"), f"{path}.path", f'"{app_path}" must be relative to the repo root, without ".."')
    server = r.string(d.get("server"), f"{path}.destination.server")
    dest_name = r.string(d.get("name"), f"{path}.destination.name")
    return App(
        name=r.name(a.get("name"), f"{path}.name"),
        path=app_path.strip("/") or ".",
        repo_url=_repo_url(r, a.get("repoURL"), f"{path}.repoURL"),
        target_revision=r.string(a.get("targetRevision"), f"{path}.targetRevision"),
        project=r.string(a.get("project"), f"{path}.project", "default"),
        destination=Destination(
            server=server or ("" if dest_name else "https://kubernetes.default.svc"),
            name=dest_name,
            namespace=r.string(d.get("namespace"), f"{path}.destination.namespace"),
        ),
        helm_values=tuple(images),
        helm_values_files=r.strings(h.get("valuesFiles"), f"{path}.helm.valuesFiles"),
        release_name=r.string(h.get("releaseName"), f"{path}.helm.releaseName"),
    )


def _check_references(r: Reader, p: Pipeline) -> None:
    warehouse_names = [w.name for w in p.warehouses]
    stage_names = [s.name for s in p.stages]
    for label, names, base in (
        ("warehouse", warehouse_names, "spec.warehouses"),
        ("stage", stage_names, "spec.stages"),
    ):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                r.problem(None, f"{base}[{i}].name", f'duplicate {label} name "{name}" (names must be unique)')
            seen.add(name)
    for si, stage in enumerate(p.stages):
        apps_seen: set[str] = set()
        for ai, app in enumerate(stage.apps):
            if app.name in apps_seen:
                r.problem(None, f"spec.stages[{si}].apps[{ai}].name", f'duplicate app name "{app.name}" in stage')
            apps_seen.add(app.name)
        for ri, request in enumerate(stage.requested_freight):
            path = f"spec.stages[{si}].requestedFreight[{ri}]"
            if request.origin and request.origin not in warehouse_names:
                known = _known(request.origin, warehouse_names)
                r.problem(None, f"{path}.origin", f'unknown warehouse "{request.origin}"{known}')
            for ui, upstream in enumerate(request.sources.stages):
                if upstream not in stage_names:
                    r.problem(
                        None,
                        f"{path}.sources.stages[{ui}]",
                        f'unknown stage "{upstream}"{_known(upstream, stage_names)}',
                    )
                elif upstream == stage.name:
                    r.problem(None, f"{path}.sources.stages[{ui}]", "a stage cannot take freight from itself")
                else:
                    upstream_stage = next(s for s in p.stages if s.name == upstream)
                    upstream_valid = all(r.origin in warehouse_names for r in upstream_stage.requested_freight)
                    if (
                        request.origin in warehouse_names
                        and upstream_valid
                        and upstream_stage.request_for(request.origin) is None
                    ):
                        r.problem(
                            None,
                            f"{path}.sources.stages[{ui}]",
                            f'stage "{upstream}" does not request freight from "{request.origin}"',
                        )
        if not stage.requested_freight and f"spec.stages[{si}].requestedFreight" in p.lines:
            r.problem(None, f"spec.stages[{si}].requestedFreight", "needs at least one origin")
        _check_overlap(r, p, si, stage)
        _check_chart_sources(r, p, si, stage)
    cycle = _find_cycle(p)
    if cycle:
        index = stage_names.index(cycle[0])
        r.problem(
            None,
            f"spec.stages[{index}].requestedFreight",
            f"stages form a cycle: {' -> '.join(cycle)} (a stage cannot be upstream of itself)",
        )


def _check_overlap(r: Reader, p: Pipeline, si: int, stage: Stage) -> None:
    """A stage's collection combines its origins' artifacts, so two origins supplying the same git
    repo, image or chart would make the render pick one silently: refuse the pipeline instead."""
    owners: dict[tuple[str, str], str] = {}
    for ri, request in enumerate(stage.requested_freight):
        warehouse = next((w for w in p.warehouses if w.name == request.origin), None)
        if warehouse is None:
            continue
        for sub in warehouse.subscriptions:
            name = f"/{sub.name}" if isinstance(sub, ChartSubscription) else ""
            key = (sub.kind, normalize_repo(sub.repo_url) + name)
            other = owners.setdefault(key, warehouse.name)
            if other != warehouse.name:
                r.problem(
                    None,
                    f"spec.stages[{si}].requestedFreight[{ri}].origin",
                    f'warehouses "{other}" and "{warehouse.name}" both subscribe to {sub.kind} {sub.repo_url}{name}; '
                    "one stage cannot request both (drop the subscription from one warehouse)",
                )


def _check_chart_sources(r: Reader, p: Pipeline, si: int, stage: Stage) -> None:
    """On ``pin``, an Application's source is a git repository the CMP renders from (the chart version
    comes from freight); a chart repository is no git source, so an app of a chart-only stage names its
    git repository itself."""
    if stage.promotion.mechanism not in ("pin", "none"):
        return
    origins = {req.origin for req in stage.requested_freight}
    warehouses = [w for w in p.warehouses if w.name in origins]
    if any(w.git() for w in warehouses) or not any(w.charts() for w in warehouses):
        return
    for ai, app in enumerate(stage.apps):
        if not app.repo_url:
            r.problem(
                None,
                f"spec.stages[{si}].apps[{ai}].repoURL",
                "is required: the stage takes chart freight only, and the Application's source must be the git "
                "repository holding this app's path (the CMP renders the chart version from freight)",
            )


def _known(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    known = f"known: {', '.join(names)}" if names else "none defined"
    return f" ({'did you mean ' + repr(close[0]) + '? ' if close else ''}{known})"


def _find_cycle(p: Pipeline) -> list[str]:
    upstream = {s.name: [u for r in s.requested_freight for u in r.sources.stages if u != s.name] for s in p.stages}
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        trail.append(name)
        for parent in upstream.get(name, []):
            if state.get(parent) == 1:
                return [*trail[trail.index(parent) :], parent]
            if parent in upstream and parent not in state:
                found = visit(parent)
                if found:
                    return found
        state[name] = 2
        trail.pop()
        return []

    for name in upstream:
        if name not in state:
            found = visit(name)
            if found:
                return list(reversed(found))
    return []
