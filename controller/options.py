"""Options every subcommand shares (where pipelines and state live, output format) and their loading."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from shared.model import Pipeline
from shared.pipeline_files import find_pipeline, load_pipelines
from shared.stores.base import DocumentStore

DEFAULT_STATE = "file:.freightyard/freightyard-{pipeline}.yaml"


def add_common(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    parser.add_argument("--pipelines", "-f", default=os.environ.get("FREIGHTYARD_PIPELINES", "."),
                        help="pipeline file or directory of them (default: ., env FREIGHTYARD_PIPELINES)")
    parser.add_argument("--state", default=os.environ.get("FREIGHTYARD_STATE", DEFAULT_STATE),
                        help="file:PATH (file or directory) or configmap:NS/NAME, or plain 'configmap' for the "
                             "pipeline's spec.state (default: file:.freightyard/freightyard-{pipeline}.yaml, "
                             "env FREIGHTYARD_STATE)")
    if output:
        parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")


@dataclass
class Context:
    pipelines: list[Pipeline]
    state_spec: str

    def pipeline(self, name: str | None) -> Pipeline:
        if name is None:
            if len(self.pipelines) == 1:
                return self.pipelines[0]
            from shared.errors import ConfigError

            raise ConfigError([f"several pipelines are defined ({', '.join(p.name for p in self.pipelines)}): "
                               "name one with --pipeline"])
        return find_pipeline(self.pipelines, name)

    def store(self, pipeline: Pipeline) -> DocumentStore:
        from shared.stores.factory import store_from_spec

        return store_from_spec(self.state_spec, pipeline)


def load_context(args: argparse.Namespace) -> Context:
    return Context(pipelines=load_pipelines(Path(args.pipelines)), state_spec=args.state)
