"""A corpus of hostile pipeline files: what a careless user or an attacker could commit to the GitOps repo.

Each entry is ``(name, text)``; the pipeline it declares (when it declares one) is ``name``, so a
test can ask the generator for exactly that pipeline. Classes: YAML tags, deep nesting, alias
bombs, huge files, wrong types, broken syntax, ``$`` and credentials in strings, odd encodings.
"""

from __future__ import annotations

from tests.helpers.controller_fakes import PIPELINE

SECRET = "hunter2-Sup3rSecret"


def good(name: str) -> str:
    return PIPELINE.replace("VERIFICATION", "").replace("name: shop}", f"name: {name}}}")


def _with(name: str, old: str, new: str) -> str:
    text = good(name)
    assert old in text, old
    return text.replace(old, new, 1)


def _stage_extra(name: str, extra: str) -> str:
    return _with(name, "  - name: prod\n", f"  - name: prod\n{extra}")


def corpus() -> list[tuple[str, str]]:
    """Hostile files, each declaring the pipeline named first (or none); 50+ of them."""
    items: list[tuple[str, str]] = []

    def add(name: str, text: str) -> None:
        items.append((name, text))

    # tags: custom, Python object constructors, binary, set; in every kind of position
    tags = [
        "!vault abc",
        "!!python/object/apply:os.system ['true']",
        "!!python/name:os.system",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!Ref x",
        "!!omap [a: 1]",
        "!<tag:example.com,2000:x> y",
    ]
    for i, tag in enumerate(tags):
        add(f"tag-promotion-{i}", _stage_extra(f"tag-promotion-{i}", f"    promotion: {{mechanism: pin, x: {tag}}}\n"))
    add("tag-repo-url", _with("tag-repo-url", 'repoURL: "https://git.example.com/org/shop.git"', "repoURL: !env URL"))
    add("tag-stage-name", _with("tag-stage-name", "- name: dev", "- name: !upper dev"))
    add("tag-mapping", _with("tag-mapping", "  warehouses:\n", "  warehouses: !custom\n"))
    # deep nesting: flow and block, in the spec, in promotion options, in a list
    for depth in (100, 1_000, 10_000, 100_000):
        add(
            f"deep-flow-{depth}",
            _stage_extra(f"deep-flow-{depth}", f"    promotion: {{x: {'[' * depth}{']' * depth}}}\n"),
        )
    add("deep-map", _stage_extra("deep-map", "    promotion: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"))
    block = "".join(f"{'  ' * (i + 3)}k{i}:\n" for i in range(300))
    add("deep-block", _stage_extra("deep-block", f"    promotion:\n{block}"))
    add("deep-unclosed", _stage_extra("deep-unclosed", "    promotion: " + "[" * 20_000 + "\n"))
    # alias bombs (billion laughs) and cycles
    laughs = "\n".join(
        [
            "x:",
            "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
            *(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)),
        ]
    )
    add("alias-bomb", good("alias-bomb") + "\n".join(f"  {line}" for line in laughs.splitlines()) + "\n")
    add("alias-bomb-doc", laughs + "\n---\n" + good("alias-bomb-doc"))
    add(
        "alias-in-promotion",
        _stage_extra(
            "alias-in-promotion",
            "    promotion: &p {mechanism: pin, a: &a [x, x, x, x, x, x, x, x, x, x], "
            + ", ".join(f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 10)}]" for i in range(7))
            + "}\n",
        ),
    )
    add("alias-cycle", _stage_extra("alias-cycle", "    promotion: &c {mechanism: pin, self: *c}\n"))
    add("alias-undefined", _stage_extra("alias-undefined", "    promotion: *nope\n"))
    # huge files
    add("huge-comment", good("huge-comment") + "# " + "x" * (2 * 1024 * 1024) + "\n")
    add("huge-list", good("huge-list") + "junk:\n" + "- x\n" * 400_000)
    add("huge-string", _with("huge-string", "branch: main}", f"branch: {'m' * 1_100_000}}}"))
    add("many-stages", good("many-stages") + "".join(f"  - name: s{i}\n" for i in range(60_000)))
    # wrong types everywhere
    types = [
        ("type-spec-list", "spec:\n", "spec: [1, 2]\nx:\n"),
        ("type-warehouses-str", "  warehouses:\n", "  warehouses: nope\n  w:\n"),
        ("type-interval-list", "interval: 5m", "interval: [5m]"),
        ("type-stage-int", "  - name: dev\n", "  - 42\n  - name: dev2\n"),
        ("type-name-map", "metadata: {name: type-name-map}", "metadata: {name: {a: b}}"),
        ("type-auto-str", "autoPromotion: true", "autoPromotion: perhaps"),
        ("type-key-map", "  stages:\n", "  ? {complex: key}\n  : 1\n  stages:\n"),
        ("type-null-spec", "spec:\n", "spec: null\nx:\n"),
        ("type-requested-str", "requestedFreight: [{origin: main, sources: {direct: true}}]", "requestedFreight: x"),
        ("type-sources-list", "sources: {direct: true}", "sources: [direct]"),
        ("type-huge-int", "interval: 5m", "interval: 99999999999999999999h"),
        ("type-zero-interval", "interval: 5m", "interval: 0s"),
        ("type-float-soak", "requiredSoakTime: 10m", "requiredSoakTime: 1e400"),
    ]
    for name, old, new in types:
        add(name, _with(name, old, new))
    # broken syntax
    add("syntax-tab", _with("syntax-tab", "  stages:\n", "\tstages:\n"))
    add("syntax-unclosed", _with("syntax-unclosed", "branch: main}", "branch: [main}"))
    add("syntax-bad-indent", _with("syntax-bad-indent", "  - name: dev\n", "  - name: dev\n     x: 1\n  y\n"))
    add("syntax-dup-key", _with("syntax-dup-key", "    autoPromotion: true\n", "    autoPromotion: true\n" * 2))
    add("syntax-bom-nul", "\ufeff" + good("syntax-bom-nul") + "\x00\n")
    add("syntax-control", _with("syntax-control", "branch: main", "branch: ma\x07in"))
    add("syntax-directive", "%YAML 9.9\n---\n" + good("syntax-directive"))
    add("syntax-anchor-only", _stage_extra("syntax-anchor-only", "    promotion: &\n"))
    # expressions and strings that are hostile to later stages
    add(
        "cel-unclosed",
        _stage_extra("cel-unclosed", "    promotion: {mechanism: render-branch, commitMessage: '${{ (((( }}'}\n"),
    )
    add(
        "cel-deep",
        _stage_extra(
            "cel-deep",
            f"    promotion: {{mechanism: render-branch, commitMessage: '${{{{ {'(' * 5000}1{')' * 5000} }}}}'}}\n",
        ),
    )
    add(
        "cel-huge",
        _stage_extra(
            "cel-huge", f"    promotion: {{mechanism: render-branch, commitMessage: '${{{{ {'1 + ' * 50_000}1 }}}}'}}\n"
        ),
    )
    add(
        "cel-tagfrom",
        _with("cel-tagfrom", "registry.example.com/org/shop}", "r.example.com/o/s, tagFrom: '${{ ((( }}'}"),
    )
    add(
        "cel-tagfrom-deep",
        _with(
            "cel-tagfrom-deep",
            "registry.example.com/org/shop}",
            f"r.example.com/o/s, tagFrom: '${{{{ {'(' * 3000}1{')' * 3000} }}}}'}}",
        ),
    )
    add(
        "regex-bad",
        _with(
            "regex-bad",
            "image: {repoURL: registry.example.com/org/shop}",
            "image: {repoURL: r.example.com/o/s, allowTags: '(['}",
        ),
    )
    add(
        "cred-git-url",
        _with(
            "cred-git-url",
            "https://git.example.com/org/shop.git",
            f"https://alice:{SECRET}@git.example.com/org/shop.git",
        ),
    )
    add(
        "cred-image-url",
        _with("cred-image-url", "registry.example.com/org/shop}", f"alice:{SECRET}@registry.example.com/org/shop}}"),
    )
    add(
        "cred-hash-url",
        _with(
            "cred-hash-url", "https://git.example.com/org/shop.git", f"https://alice:{SECRET}#x@git.example.com/o.git"
        ),
    )
    add(
        "unknown-field",
        _with("unknown-field", "    autoPromotion: true\n", "    autoPromotion: true\n    autoPromote: yes\n"),
    )
    add("unknown-origin", _with("unknown-origin", "origin: main, sources: {direct", "origin: mian, sources: {direct"))
    add("bad-mechanism", _stage_extra("bad-mechanism", "    promotion: {mechanism: rm -rf /}\n"))
    add("bad-name", _with("bad-name", "metadata: {name: bad-name}", "metadata: {name: Bad_Name!}"))
    add("", "kind: Pipeline\n" + "\n".join(f"k{i}: !x v" for i in range(10)) + "\n")  # declares no name
    return items
