"""A pipeline's state (freight catalog, each stage's collection and per-app pins, history,
approvals, verifications) and its ConfigMap form. The design is docs/state-model.md.

The document is a plain ConfigMap, readable with ``kubectl get cm -o yaml``::

    data:
      state.yaml        the index: version, pipeline, stages (a document without it is damaged)
      freight.yaml      the catalog: a list of freight, newest first
      stage.<name>.yaml the stage's collection (origin -> freight), one pin per app, promotions,
                        verifications, approvals and the gates' own mapping

Version 1 documents (one ``current`` record per stage) are read and migrated; they are written
back as version 2. Damage (a lost index or stage key, a pin naming unknown freight, wrong types)
raises ``StateError``: answering with fewer stages or apps would prune Applications.

Pure: conversion, pruning and size bounds only; stores do the I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from freightyard.shared.core.errors import FreightyardError, NotFoundError, StoreError
from freightyard.shared.core.freight import Freight, combine
from freightyard.shared.core.gates import StageGates

if TYPE_CHECKING:
    from freightyard.shared.core.model import Pipeline

MAX_DOCUMENT_BYTES = 900 * 1024  # ConfigMaps are capped at 1 MiB; leave room for metadata
DEFAULT_FREIGHT_PER_WAREHOUSE = 20
DEFAULT_HISTORY = 20
DEFAULT_VERIFICATIONS = 50
SUCCEEDED, FAILED, NOOP, RUNNING = "Succeeded", "Failed", "Noop", "Running"
VERIFIED_PHASES = ("Succeeded", "Skipped")
VERSION = 2
INDEX_KEY = "state.yaml"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


class StateError(StoreError):
    """The state document is damaged or belongs to another pipeline; the message names the key and the fix."""

    temporary = False


def promotion_id(at: str, collection: str) -> str:
    """``20261203T101500Z-3f2a1c``: when, and the first characters of the collection it produced."""
    return f"{at.replace('-', '').replace(':', '')}-{collection[:6]}"


@dataclass
class PromotionRecord:
    """One promotion of a stage. ``freight`` is the first freight it brought in (the one a
    single-origin promotion brought); ``brought`` maps every origin it replaced to its freight."""

    freight: str
    stage: str
    by: str
    at: str
    phase: str
    mechanism: str = "pin"
    render_hash: str = ""
    message: str = ""
    revision: str = ""  # what the stage's Applications should point at (commit, branch head, chart version)
    changed_apps: list[str] = field(default_factory=list)  # apps whose render changed; empty: all/unknown
    id: str = ""
    brought: dict[str, str] = field(default_factory=dict)  # origin -> freight id
    collection: str = ""  # the stage's collection id after this promotion

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "freight": dict(self.brought) if self.brought else self.freight,
            "collection": self.collection,
            "by": self.by,
            "at": self.at,
            "phase": self.phase,
            "mechanism": self.mechanism,
        }
        for key, value in (("renderHash", self.render_hash), ("message", self.message), ("revision", self.revision)):
            if value:
                out[key] = value
        if self.changed_apps:
            out["changedApps"] = list(self.changed_apps)
        return {k: v for k, v in out.items() if v != ""}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, stage: str = "") -> PromotionRecord:
        freight = data["freight"]
        brought = {str(k): str(v) for k, v in freight.items()} if isinstance(freight, dict) else {}
        first = brought[sorted(brought)[0]] if brought else str(freight)
        at = str(data.get("at", ""))
        return cls(
            freight=first,
            stage=str(data.get("stage", stage)),
            by=str(data.get("by", "")),
            at=at,
            phase=str(data.get("phase", SUCCEEDED)),
            mechanism=str(data.get("mechanism", "pin")),
            render_hash=str(data.get("renderHash", "")),
            message=str(data.get("message", "")),
            revision=str(data.get("revision", "")),
            changed_apps=[str(a) for a in data.get("changedApps") or []],
            id=str(data.get("id") or promotion_id(at, str(data.get("collection") or first))),
            brought=brought,
            collection=str(data.get("collection") or first),
        )


@dataclass
class Mark:
    """A verification result or an approval of one freight in one stage."""

    at: str
    by: str = ""
    phase: str = ""
    message: str = ""
    promotion: str = ""  # the promotion whose collection was verified

    def to_dict(self) -> dict[str, str]:
        pairs = (("at", self.at), ("by", self.by), ("phase", self.phase), ("message", self.message))
        return {k: v for k, v in (*pairs, ("promotion", self.promotion)) if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mark:
        return cls(
            at=str(data.get("at", "")),
            by=str(data.get("by", "")),
            phase=str(data.get("phase", "")),
            message=str(data.get("message", "")),
            promotion=str(data.get("promotion", "")),
        )


@dataclass
class Holding:
    """One member of a stage's collection: which freight, brought by which promotion, when."""

    id: str
    promotion: str = ""
    at: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("id", self.id), ("promotion", self.promotion), ("at", self.at)) if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Holding:
        return cls(id=str(data["id"]), promotion=str(data.get("promotion", "")), at=str(data.get("at", "")))


@dataclass
class AppPin:
    """What one app of a stage renders from. Kept byte for byte while its render does not change,
    so the generator's answer for the app (and its Application spec) stays identical."""

    freight: dict[str, str]  # origin -> freight id: the collection the app renders
    revision: str = ""  # what the Application's targetRevision points at
    render_hash: str = ""
    promotion: str = ""  # the promotion that last changed this pin

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"freight": dict(sorted(self.freight.items()))}
        pairs = (("revision", self.revision), ("renderHash", self.render_hash), ("promotion", self.promotion))
        for key, value in pairs:
            if value:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AppPin:
        freight = data["freight"]
        if not isinstance(freight, dict) or not freight:
            raise TypeError("freight must be a mapping of origin to freight id")
        return cls(
            freight={str(k): str(v) for k, v in freight.items()},
            revision=str(data.get("revision", "")),
            render_hash=str(data.get("renderHash", "")),
            promotion=str(data.get("promotion", "")),
        )


@dataclass
class InFlight:
    """A promotion whose mechanism has started but whose outcome is not recorded yet. Written before the
    mechanism runs and removed with its outcome, so a process that dies in between leaves this behind
    and the next writer records the promotion as interrupted instead of taking the half-done work as done."""

    promotion: str
    brought: dict[str, str]  # origin -> freight id
    by: str = ""
    at: str = ""
    mechanism: str = ""
    holder: str = ""  # host:pid of the process running it

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"promotion": self.promotion, "brought": dict(sorted(self.brought.items()))}
        pairs = (("by", self.by), ("at", self.at), ("mechanism", self.mechanism), ("holder", self.holder))
        for key, value in pairs:
            if value:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InFlight:
        brought = data.get("brought") or {}
        if not isinstance(brought, dict):
            raise TypeError("brought must be a mapping of origin to freight id")
        return cls(
            promotion=str(data["promotion"]),
            brought={str(k): str(v) for k, v in brought.items()},
            by=str(data.get("by", "")),
            at=str(data.get("at", "")),
            mechanism=str(data.get("mechanism", "")),
            holder=str(data.get("holder", "")),
        )


STAGE_KEYS = (
    "freight",
    "apps",
    "promotions",
    "verifications",
    "approvals",
    "autoPromotionHold",
    "gates",
    "inFlight",
)
V1_KEYS = ("current", "history")


@dataclass
class StageState:
    freight: dict[str, Holding] = field(default_factory=dict)  # origin -> the freight held (the collection)
    apps: dict[str, AppPin] = field(default_factory=dict)  # app name -> pin
    history: list[PromotionRecord] = field(default_factory=list)  # newest first ("promotions")
    verifications: dict[str, Mark] = field(default_factory=dict)  # freight id -> result
    gates: StageGates = field(default_factory=StageGates)  # approvals, holds, failed marks (gates.py)
    hold: str = ""  # a manual promotion of older freight holds auto-promotion until the candidate is promoted
    in_flight: list[InFlight] = field(default_factory=list)  # started promotions without an outcome yet
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer writer added (e.g. pending): kept as is

    @classmethod
    def holding(
        cls,
        freight: Freight,
        apps: Iterable[str],
        *,
        revision: str = "",
        by: str = "",
        at: str = "2024-01-01T00:00:00Z",
        stage: str = "",
    ) -> StageState:
        """A stage that holds ``freight`` alone with every app in ``apps`` pinned to it (as after one
        successful promotion): for tools, benchmarks and tests that build state by hand."""
        record = PromotionRecord(
            freight=freight.id,
            stage=stage,
            by=by,
            at=at,
            phase=SUCCEEDED,
            revision=revision,
            id=promotion_id(at, freight.id),
            brought={freight.origin: freight.id},
            collection=freight.id,
        )
        return cls(
            freight={freight.origin: Holding(freight.id, record.id, at)},
            apps={name: AppPin({freight.origin: freight.id}, revision, "", record.id) for name in apps},
            history=[record],
        )

    @property
    def current(self) -> PromotionRecord | None:
        """The newest promotion that landed (not Failed); None when the stage holds nothing."""
        if not self.freight:
            return None
        return next((r for r in self.history if r.phase != FAILED), None)

    def collection_ids(self) -> dict[str, str]:
        return {origin: holding.id for origin, holding in sorted(self.freight.items())}

    def is_verified(self, freight_id: str) -> bool:
        mark = self.verifications.get(freight_id)
        return mark is not None and mark.phase in VERIFIED_PHASES

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.freight:
            out["freight"] = {origin: h.to_dict() for origin, h in sorted(self.freight.items())}
        if self.apps:
            out["apps"] = {name: pin.to_dict() for name, pin in sorted(self.apps.items())}
        if self.hold:
            out["autoPromotionHold"] = self.hold
        if self.verifications:
            out["verifications"] = {k: v.to_dict() for k, v in self.verifications.items()}
        gates = self.gates.to_dict()
        if gates:
            out["gates"] = gates
        if self.in_flight:
            out["inFlight"] = [started.to_dict() for started in self.in_flight]
        if self.history:
            out["promotions"] = [h.to_dict() for h in self.history]
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, stage: str = "") -> StageState:
        return cls(
            freight={str(k): Holding.from_dict(v) for k, v in (data.get("freight") or {}).items()},
            apps={str(k): AppPin.from_dict(v) for k, v in (data.get("apps") or {}).items()},
            history=[PromotionRecord.from_dict(h, stage=stage) for h in data.get("promotions") or []],
            verifications={str(k): Mark.from_dict(v) for k, v in (data.get("verifications") or {}).items()},
            gates=StageGates.from_dict(data.get("gates"), legacy_approvals=data.get("approvals")),
            hold=str(data.get("autoPromotionHold", "")),
            in_flight=[InFlight.from_dict(started) for started in data.get("inFlight") or []],
            extra={k: v for k, v in data.items() if k not in STAGE_KEYS and k not in V1_KEYS},
        )


@dataclass
class State:
    freight: dict[str, Freight] = field(default_factory=dict)  # insertion order: newest first
    stages: dict[str, StageState] = field(default_factory=dict)
    version: int = VERSION  # the version the document was read as (1: migrated on the next write)

    def stage(self, name: str) -> StageState:
        return self.stages.setdefault(name, StageState())

    def collection(self, stage: str) -> dict[str, Freight]:
        """The freight a stage holds, by origin (only members found in the catalog)."""
        stage_state = self.stages.get(stage)
        if stage_state is None:
            return {}
        return {o: self.freight[h.id] for o, h in sorted(stage_state.freight.items()) if h.id in self.freight}

    def current_freight(self, stage: str, origin: str = "") -> Freight | None:
        """The freight of ``origin`` in ``stage``; without an origin, the combined collection
        (the freight itself for a one-member collection)."""
        members = self.collection(stage)
        if origin:
            return members.get(origin)
        return combine(members.values()) if members else None

    def add_freight(self, freight: Freight) -> bool:
        """Add to the catalog (newest first); False when it is already known."""
        if freight.id in self.freight:
            return False
        self.freight = {freight.id: freight, **self.freight}
        return True

    def in_use(self) -> set[str]:
        used: set[str] = set()
        for stage in self.stages.values():
            used.update(h.id for h in stage.freight.values())
            for pin in stage.apps.values():
                used.update(pin.freight.values())
            used.update(stage.gates.freight_ids())
            if stage.hold:
                used.add(stage.hold)
        return used


def state_from_document(document: dict[str, Any] | None, pipeline: Pipeline | None = None) -> State:
    """Decode (and migrate) a state document; ``StateError`` when it is damaged or, given
    ``pipeline``, when it belongs to another pipeline."""
    if not document:
        return State()
    data = document.get("data") or {}
    if not isinstance(data, dict):
        raise StateError("the state document's data is not a mapping; restore the document from a backup")
    if not data:
        labels = (document.get("metadata") or {}).get("labels") or {}
        if isinstance(labels, dict) and labels.get("app.kubernetes.io/managed-by") == "freightyard":
            raise StateError(
                "the state document has no data although freightyard wrote it (it was wiped): answering "
                "with no stages would prune every Application; restore it from a backup, or delete the "
                "ConfigMap/file to start the pipeline from nothing"
            )
        return State()
    index_text = data.get(INDEX_KEY)
    stage_keys = {k[len("stage.") : -len(".yaml")]: k for k in data if k.startswith("stage.") and k.endswith(".yaml")}
    loaded = {name: _load(data, key, dict) for name, key in stage_keys.items()}
    if index_text is None:
        v2 = sorted(name for name, body in loaded.items() if any(k in body for k in ("freight", "apps", "promotions")))
        if v2:
            raise StateError(
                f"state key {INDEX_KEY} is missing while stage.{v2[0]}.yaml is in the version-2 form: the "
                "document is damaged; restore it from a backup (or re-create state.yaml: version: 2, "
                "pipeline: NAME, stages: [...])"
            )
        labels = (document.get("metadata") or {}).get("labels") or {}
        owner = str(labels.get("freightyard.io/pipeline", "")) if isinstance(labels, dict) else ""
        _check_owner(owner, pipeline)
        return _migrate_v1(data, loaded, pipeline)
    index = _load(data, INDEX_KEY, dict)
    version = index.get("version")
    if version != VERSION:
        raise StateError(
            f"state key {INDEX_KEY}: version {version!r} is not {VERSION}; "
            + ("upgrade freightyard" if isinstance(version, int) and version > VERSION else "restore the document")
        )
    _check_owner(str(index.get("pipeline", "")), pipeline)
    listed = index.get("stages")
    if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
        raise StateError(f"state key {INDEX_KEY}: stages must be a list of stage names; restore the document")
    for name in listed:
        if name not in stage_keys:
            raise StateError(
                f"state key stage.{name}.yaml is missing but {INDEX_KEY} lists stage {name!r}: the document "
                "is damaged; restore it from a backup"
            )
    state = State(freight=_catalog(data))
    for name, body in loaded.items():
        state.stages[name] = _decode(f"stage.{name}.yaml", StageState.from_dict, body, stage=name)
    _check_references(state)
    return state


def _check_owner(owner: str, pipeline: Pipeline | None) -> None:
    if pipeline is not None and owner and owner != pipeline.name:
        raise StateError(
            f"the state document belongs to pipeline {owner!r}, not {pipeline.name!r}: give each pipeline its "
            "own state (--state file:PATH with {pipeline} in PATH, or spec.state.configMap.name)"
        )


# libyaml's safe loader/dumper when present: a controller with thousands of pipelines spends most
# of its time turning state to and from YAML (bench/bench_scale.py); same documents, C speed.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _load(data: dict[str, Any], key: str, kind: type) -> Any:
    text = data.get(key)
    try:
        value = yaml.load(text, Loader=_LOADER) if isinstance(text, str) else None  # noqa: S506 - safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StateError(f"state key {key} is not valid YAML{where}; fix or restore the document") from error
    if value is None and kind is list:
        return []
    if value is None and kind is dict and key != INDEX_KEY:
        return {}
    if not isinstance(value, kind):
        raise StateError(f"state key {key} is not a {kind.__name__}; fix or restore the document")
    return value


T = TypeVar("T")


def _decode(key: str, build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return build(*args, **kwargs)
    except FreightyardError as error:
        raise StateError(f"state key {key}: {error.message}") from error
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise StateError(f"state key {key} has the wrong shape ({detail}); fix or restore the document") from error


def _catalog(data: dict[str, Any]) -> dict[str, Freight]:
    catalog: dict[str, Freight] = {}
    for item in _load(data, "freight.yaml", list):
        freight = _decode("freight.yaml", Freight.from_dict, item)
        catalog[freight.id] = freight
    return catalog


def _check_references(state: State) -> None:
    for name, stage in state.stages.items():
        for origin, holding in stage.freight.items():
            if holding.id not in state.freight:
                raise StateError(
                    f"state key stage.{name}.yaml: the stage holds freight {holding.id[:12]} ({origin}) that is "
                    "not in freight.yaml; restore the document or re-promote the stage"
                )
        for app, pin in stage.apps.items():
            missing = [i for i in pin.freight.values() if i not in state.freight]
            if missing:
                raise StateError(
                    f"state key stage.{name}.yaml: app {app!r} is pinned to freight {missing[0][:12]} that is "
                    "not in freight.yaml; restore the document or re-promote the stage"
                )


def _migrate_v1(data: dict[str, Any], loaded: dict[str, dict[str, Any]], pipeline: Pipeline | None) -> State:
    """Version 1: each stage had one ``current`` record. Its freight becomes the collection and every
    app of the stage is pinned to it with the record's revision and hash."""
    state = State(freight=_catalog(data), version=1)
    for name, body in loaded.items():
        key = f"stage.{name}.yaml"
        stage_state = _decode(key, StageState.from_dict, body, stage=name)
        stage_state.history = [
            _decode(key, PromotionRecord.from_dict, h, stage=name) for h in body.get("history") or []
        ]
        current_body = body.get("current")
        if current_body:
            current = _decode(key, PromotionRecord.from_dict, current_body, stage=name)
            freight = state.freight.get(current.freight)
            if freight is None:
                raise StateError(
                    f"state key {key}: the stage is pinned to freight {current.freight[:12]} that is not in "
                    "freight.yaml; restore the document or re-promote the stage"
                )
            if not any(r.id == current.id for r in stage_state.history):
                stage_state.history.insert(0, current)
            stage_state.freight = {freight.origin: Holding(freight.id, current.id, current.at)}
            apps = _stage_apps(pipeline, name)
            stage_state.apps = {
                app: AppPin({freight.origin: freight.id}, current.revision, current.render_hash, current.id)
                for app in apps
            }
        for record in stage_state.history:
            origin = state.freight[record.freight].origin if record.freight in state.freight else ""
            if origin and not record.brought:
                record.brought = {origin: record.freight}
        state.stages[name] = stage_state
    return state


def _stage_apps(pipeline: Pipeline | None, stage: str) -> list[str]:
    if pipeline is None:
        return []
    return [app.name for s in pipeline.stages if s.name == stage for app in s.apps]


def state_to_document(
    state: State, *, pipeline: str, name: str, namespace: str, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ConfigMap for ``state``, pruned to fit; keeps the previous document's metadata."""
    prune(state)
    document = _encode(state, pipeline, name, namespace, previous)
    keep, history = DEFAULT_FREIGHT_PER_WAREHOUSE, DEFAULT_HISTORY
    while len(yaml.dump(document, Dumper=_DUMPER)) > MAX_DOCUMENT_BYTES and (keep > 1 or history > 1):
        keep, history = max(1, keep // 2), max(1, history // 2)
        prune(state, keep_per_warehouse=keep, history=history)
        document = _encode(state, pipeline, name, namespace, previous)
    return document


def _encode(state: State, pipeline: str, name: str, namespace: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    metadata = dict((previous or {}).get("metadata") or {})
    metadata.update(name=name, namespace=namespace)
    labels = dict(metadata.get("labels") or {})
    labels.update({"app.kubernetes.io/managed-by": "freightyard", "freightyard.io/pipeline": pipeline})
    metadata["labels"] = labels
    index = {"version": VERSION, "pipeline": pipeline, "stages": sorted(state.stages)}
    data = {INDEX_KEY: _dump(index), "freight.yaml": _dump([f.to_dict() for f in state.freight.values()])}
    for stage_name in sorted(state.stages):
        data[f"stage.{stage_name}.yaml"] = _dump(state.stages[stage_name].to_dict())
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=1000)


def prune(
    state: State,
    *,
    keep_per_warehouse: int = DEFAULT_FREIGHT_PER_WAREHOUSE,
    history: int = DEFAULT_HISTORY,
    verifications: int = DEFAULT_VERIFICATIONS,
) -> None:
    """Bound the catalog (newest N per warehouse plus all in use) and each stage's records."""
    for stage in state.stages.values():
        landed = stage.current
        del stage.history[history:]
        if landed is not None and landed not in stage.history:
            stage.history.append(landed)  # the promotion that put the collection there stays visible
    used = state.in_use()
    counts: dict[str, int] = {}
    kept: dict[str, Freight] = {}
    for freight_id, freight in state.freight.items():
        counts[freight.origin] = counts.get(freight.origin, 0) + 1
        if counts[freight.origin] <= keep_per_warehouse or freight_id in used:
            kept[freight_id] = freight
    state.freight = kept
    for stage in state.stages.values():
        stage.verifications = {k: v for k, v in stage.verifications.items() if k in kept}
        if len(stage.verifications) > verifications:
            newest = sorted(stage.verifications.items(), key=lambda kv: kv[1].at, reverse=True)[:verifications]
            stage.verifications = dict(newest)
        stage.gates.prune(kept)


def find_freight(state: State, ref: str) -> Freight:
    """Freight by full id, a unique id prefix (4+ characters) or its alias."""
    ref = ref.strip()
    if ref in state.freight:
        return state.freight[ref]
    matches = [f for f in state.freight.values() if f.alias == ref or (len(ref) >= 4 and f.id.startswith(ref))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        candidates = ", ".join(f.short_id for f in matches)
        raise NotFoundError(f"freight {ref!r} is ambiguous ({candidates}): give more of the id")
    raise NotFoundError(f"no freight {ref!r} in the catalog (see: freightyard freight list)")
