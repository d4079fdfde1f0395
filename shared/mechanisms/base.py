"""The mechanism interface and the registry that finds one by its pipeline name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.freight import Freight
from freightyard.shared.core.model import Pipeline, Stage
from freightyard.shared.settings import EngineSettings


@dataclass(frozen=True)
class PromotionContext:
    """Everything a mechanism may use; ``settings`` are the process-wide knobs (``EngineSettings``)."""

    pipeline: Pipeline
    stage: Stage
    freight: Freight
    current: Freight | None  # what the stage holds now
    actor: str
    cache_dir: Path
    settings: EngineSettings = field(default_factory=EngineSettings)


@dataclass(frozen=True)
class MechanismResult:
    phase: str  # Succeeded | Noop
    message: str = ""
    revision: str = ""  # what the stage's Applications should now point at; empty: derive from the freight
    render_hash: str = ""
    changed_apps: tuple[str, ...] = ()  # apps whose render changed; empty: unknown (verify all)


class Mechanism(Protocol):
    def promote(self, context: PromotionContext) -> MechanismResult: ...


# name -> "module:Class"; modules load only when a pipeline uses them.
REGISTRY: dict[str, str] = {
    "pin": "freightyard.shared.mechanisms.pin:Pin",
    "none": "freightyard.shared.mechanisms.pin:RecordOnly",
    "render-branch": "freightyard.shared.mechanisms.render_branch:RenderBranch",
    "copy-branch": "freightyard.shared.mechanisms.copy_branch:CopyBranch",
    "update-images": "freightyard.shared.mechanisms.update_images:UpdateImages",
    "update-app": "freightyard.shared.mechanisms.update_app:UpdateApp",
}


def mechanism_for(name: str) -> Mechanism:
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError([f'unknown promotion mechanism "{name}" (known: {", ".join(REGISTRY)})'])
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ConfigError([f'promotion mechanism "{name}" is not available in this build']) from error
    mechanism: Mechanism = getattr(module, class_name)()
    return mechanism
