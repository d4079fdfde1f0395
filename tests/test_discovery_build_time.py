"""NewestBuild against the real registry: Kargo's build-time precedence, indexes, variants, the metadata cache."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from freightyard.shared.core.model import ImageSubscription
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.sources.factory import DefaultSources
from freightyard.shared.sources.metacache import MetadataCache
from tests.servers.oci import (
    MEDIA_OCI_INDEX,
    Blob,
    BuiltImage,
    BuiltIndex,
    RegistryClient,
    _canonical_json,
    build_image,
)
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration
_names = (f"built{i}" for i in itertools.count())
EPOCH = "1970-01-01T00:00:00Z"
OCI = "org.opencontainers.image.created"
LS = "org.label-schema.build-date"


def sources_for(tmp_path: Path, host: str, metadata: MetadataCache | None = None) -> DefaultSources:
    return DefaultSources(
        cache_dir=tmp_path,
        credentials=EnvFileCredentials(env={}, secrets_dir=None),
        insecure_hosts=frozenset({host}),
        metadata=metadata or MetadataCache(),
    )


def push(registry: Registry, repo: str, tag: str, **kw: object) -> str:
    image = build_image(files={"tag": f"{repo}:{tag}"}, **kw)  # type: ignore[arg-type]
    return RegistryClient(registry.url).push_image(repo, image, [tag])


def push_index(
    registry: Registry,
    repo: str,
    tag: str,
    children: list[tuple[BuiltImage, dict[str, str], dict[str, str]]],  # image, platform, descriptor annotations
    annotations: dict[str, str] | None = None,
) -> str:
    body: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_INDEX,
        "manifests": [
            image.manifest.descriptor(platform=platform, **({"annotations": ann} if ann else {}))
            for image, platform, ann in children
        ],
    }
    if annotations:
        body["annotations"] = annotations
    index = BuiltIndex(Blob(MEDIA_OCI_INDEX, _canonical_json(body)), tuple(c[0] for c in children))
    return RegistryClient(registry.url).push_index(repo, index, [tag])


def newest(sources: DefaultSources, sub: ImageSubscription) -> list[tuple[str, str]]:
    return [(i.tag, i.created_at) for i in sources.image(sub).images(sub, 20)]


def test_single_images_follow_kargo_precedence_and_epoch_builds_tie(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    push(registry, repo, "ann", created=EPOCH, annotations={OCI: "2024-05-01T00:00:00Z", LS: "2033-01-01T00:00:00Z"})
    push(
        registry,
        repo,
        "lsann",
        created=EPOCH,
        annotations={LS: "2024-04-01T00:00:00Z"},
        labels={OCI: "2034-01-01T00:00:00Z"},
    )
    push(registry, repo, "label", created=EPOCH, labels={OCI: "2024-03-01T00:00:00Z", LS: "2035-01-01T00:00:00Z"})
    push(registry, repo, "legacy", created="2036-01-01T00:00:00Z", labels={LS: "2024-02-01T00:00:00Z"})
    push(registry, repo, "config", created="2024-01-01T00:00:00Z")
    push(registry, repo, "epoch-a", created=EPOCH)
    push(registry, repo, "epoch-b", created=EPOCH)
    sub = ImageSubscription(f"{registry.host}/{repo}", strategy="NewestBuild")
    assert newest(sources_for(tmp_path, registry.host), sub) == [
        ("ann", "2024-05-01T00:00:00Z"),
        ("lsann", "2024-04-01T00:00:00Z"),
        ("label", "2024-03-01T00:00:00Z"),
        ("legacy", "2024-02-01T00:00:00Z"),
        ("config", "2024-01-01T00:00:00Z"),
        ("epoch-b", EPOCH),  # reproducible builds tie on the epoch: the tag decides, deterministically
        ("epoch-a", EPOCH),
    ]


def test_indexes_own_annotation_then_descriptor_then_newest_child(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    amd = {"os": "linux", "architecture": "amd64"}
    arm = {"os": "linux", "architecture": "arm64"}

    def child(arch: str, created: str, tag: str) -> BuiltImage:
        return build_image(created=created, architecture=arch, files={"t": f"{tag}{arch}"})

    push_index(
        registry,
        repo,
        "own",
        [
            (child("amd64", "2026-01-01T00:00:00Z", "own"), amd, {}),
            (child("arm64", "2026-02-01T00:00:00Z", "own"), arm, {}),
        ],
        annotations={OCI: "2024-01-10T00:00:00Z"},
    )
    push_index(
        registry,
        repo,
        "desc",
        [
            (child("amd64", "2027-01-01T00:00:00Z", "desc"), amd, {OCI: "2024-01-20T00:00:00Z"}),
            (child("arm64", EPOCH, "desc"), arm, {}),
        ],
    )
    push_index(  # the arm64 child finished last: the index is as new as its newest child
        registry,
        repo,
        "late",
        [
            (child("amd64", "2024-01-05T00:00:00Z", "late"), amd, {}),
            (child("arm64", "2024-01-30T00:00:00Z", "late"), arm, {}),
        ],
    )
    sources = sources_for(tmp_path, registry.host)
    url = f"{registry.host}/{repo}"
    assert newest(sources, ImageSubscription(url, strategy="NewestBuild")) == [
        ("late", "2024-01-30T00:00:00Z"),
        ("desc", "2024-01-20T00:00:00Z"),
        ("own", "2024-01-10T00:00:00Z"),
    ]
    assert newest(sources, ImageSubscription(url, strategy="NewestBuild", platform="linux/amd64")) == [
        ("desc", "2024-01-20T00:00:00Z"),
        ("own", "2024-01-10T00:00:00Z"),
        ("late", "2024-01-05T00:00:00Z"),
    ]


def test_platform_variant_must_match(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    v8 = build_image(created="2024-01-01T00:00:00Z", architecture="arm64", files={"t": "v8"})
    push_index(registry, repo, "1.0.0", [(v8, {"os": "linux", "architecture": "arm64", "variant": "v8"}, {})])
    sources = sources_for(tmp_path, registry.host)
    url = f"{registry.host}/{repo}"
    for strategy in ("NewestBuild", "SemVer"):
        bare = ImageSubscription(url, strategy=strategy, platform="linux/arm64")
        assert sources.image(bare).images(bare, 5) == []  # Kargo: the variant is part of the platform
        exact = ImageSubscription(url, strategy=strategy, platform="linux/arm64/v8")
        assert [i.tag for i in sources.image(exact).images(exact, 5)] == ["1.0.0"]


def test_steady_state_costs_the_tag_list_plus_new_tags_and_disk_cache_survives(
    registry: Registry, tmp_path: Path
) -> None:
    repo = next(_names)
    for i in range(6):
        push(registry, repo, f"b{i}", created=f"2024-01-0{i + 1}T00:00:00Z")
    metadata = MetadataCache(tmp_path / "meta")
    sources = sources_for(tmp_path, registry.host, metadata)
    sub = ImageSubscription(f"{registry.host}/{repo}", strategy="NewestBuild")
    newest(sources, sub)
    before = sources.http.requests_sent
    newest(sources, sub)
    assert sources.http.requests_sent - before == 1  # the tag list alone
    push(registry, repo, "b9", created="2024-02-01T00:00:00Z", annotations={OCI: "2024-03-01T00:00:00Z"})
    push(registry, repo, "b8", created="2024-02-01T00:00:00Z")
    before = sources.http.requests_sent
    assert newest(sources, sub)[:2] == [("b9", "2024-03-01T00:00:00Z"), ("b8", "2024-02-01T00:00:00Z")]
    # tag list + b9's manifest (annotated: no config needed) + b8's manifest and config
    assert sources.http.requests_sent - before == 1 + 1 + 2
    other_pipeline = ImageSubscription(f"{registry.host}/{repo}", strategy="NewestBuild", allow_tags="^b[0-4]")
    before = sources.http.requests_sent
    assert newest(sources, other_pipeline)[0] == ("b4", "2024-01-05T00:00:00Z")
    assert sources.http.requests_sent - before == 1  # shared across subscriptions
    restarted = sources_for(tmp_path, registry.host, MetadataCache(tmp_path / "meta"))
    assert newest(restarted, sub) == newest(sources, sub)
    assert restarted.http.requests_sent == 1 + 8  # tag list + one manifest GET per tag; configs read from disk


def test_image_tags_parse_strictly_unless_strict_semvers_is_false(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    for tag in ("1.0.0", "1.1", "2", "v1.2.0"):
        push(registry, repo, tag)
    sources = sources_for(tmp_path, registry.host)
    url = f"{registry.host}/{repo}"
    strict = ImageSubscription(url)
    assert [i.tag for i in sources.image(strict).images(strict, 5)] == ["v1.2.0", "1.0.0"]
    lenient = ImageSubscription(url, strict_semvers=False)
    assert [i.tag for i in sources.image(lenient).images(lenient, 5)] == ["2", "v1.2.0", "1.1", "1.0.0"]


def test_allow_and_ignore_tags_search_like_kargo_and_platform_lists(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    for tag in ("1.0.0", "1.1.0-rc.1", "1.2.0", "2.0.0", "1.3.0"):
        push(registry, repo, tag, architecture="arm64" if tag == "1.3.0" else "amd64")
    sources = sources_for(tmp_path, registry.host)
    url = f"{registry.host}/{repo}"

    def tags(**kw: object) -> list[str]:
        sub = ImageSubscription(url, **kw)  # type: ignore[arg-type]
        return [i.tag for i in sources.image(sub).images(sub, 10)]

    assert tags(allow_tags=r"\.0\.0") == ["2.0.0", "1.0.0"]  # searched anywhere, not matched whole
    assert tags(ignore_tags=("rc", "2.0.0")) == ["1.3.0", "1.2.0", "1.1.0-rc.1", "1.0.0"]  # whole tags, as Kargo
    assert tags(ignore_tags=(r"1\..*",)) == ["2.0.0"]  # or a full regex match
    assert tags(ignore_tags=("glob:1.*",)) == ["2.0.0"]  # or a glob over the whole tag
    assert tags(ignore_tags_regexes=("rc", r"^2\.")) == ["1.3.0", "1.2.0", "1.0.0"]  # Kargo v1.11: searched
    assert tags(allow_tags_regexes=(r"^1\.0", "3")) == ["1.3.0", "1.0.0"]  # any of them
    assert tags(ignore_tags=("rc",), strict_semvers=True, constraint=">=1.0.0-0") == [
        "2.0.0",
        "1.3.0",
        "1.2.0",
        "1.1.0-rc.1",
        "1.0.0",
    ]
    assert tags(allow_tags="glob:1.?.0") == ["1.3.0", "1.2.0", "1.0.0"]
    assert tags(platform="linux/arm64") == ["1.3.0"]
    assert tags(platform="linux/amd64,linux/arm64", constraint="^1") == ["1.3.0", "1.2.0", "1.0.0"]


def test_numerical_extract_and_order_as_flux_image_policies(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    for tag in ("main-3f2a-1700000100", "main-9bc1-1700000900", "main-0aa0-999", "dev-ffff-1800000000", "7", "42"):
        push(registry, repo, tag, created="2024-01-01T00:00:00Z")
    sources = sources_for(tmp_path, registry.host)
    url = f"{registry.host}/{repo}"

    def tags(**kw: object) -> list[str]:
        sub = ImageSubscription(url, **kw)  # type: ignore[arg-type]
        return [i.tag for i in sources.image(sub).images(sub, 10)]

    flux = {"filter_pattern": r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "filter_extract": "$ts"}
    assert tags(strategy="Numerical", **flux) == ["main-9bc1-1700000900", "main-3f2a-1700000100", "main-0aa0-999"]
    assert tags(strategy="Lexical", **flux)[0] == "main-0aa0-999"  # "999" > "1700000900" as text
    assert tags(strategy="Numerical") == ["42", "7"]
    assert tags(strategy="Numerical", order="desc") == ["7", "42"]  # Flux's desc: the lowest value wins
    assert tags(strategy="NewestBuild", filter_pattern="^main-") == sorted(
        ["main-3f2a-1700000100", "main-9bc1-1700000900", "main-0aa0-999"], reverse=True
    )  # the same build time for all: the tag decides
