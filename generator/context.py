"""What one generator app holds: settings, token source, pipeline catalog, state reader, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from freightyard.generator.auth import TokenSource
from freightyard.generator.config import Settings
from freightyard.generator.metrics import Metrics
from freightyard.generator.pipelines import PipelineCatalog
from freightyard.generator.service import ParamsService


@dataclass(frozen=True)
class Context:
    settings: Settings
    tokens: TokenSource
    catalog: PipelineCatalog
    service: ParamsService
    metrics: Metrics
