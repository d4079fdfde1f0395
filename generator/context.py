"""What one generator app holds: settings, token source, pipeline catalog, state reader, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from generator.auth import TokenSource
from generator.config import Settings
from generator.metrics import Metrics
from generator.pipelines import PipelineCatalog
from generator.service import ParamsService


@dataclass(frozen=True)
class Context:
    settings: Settings
    tokens: TokenSource
    catalog: PipelineCatalog
    service: ParamsService
    metrics: Metrics
