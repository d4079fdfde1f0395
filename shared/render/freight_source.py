"""Which freight the CMP renders: the generator's ``ARGOCD_ENV_FREIGHT`` (checked against
``ARGOCD_ENV_FREIGHT_ID``; needs nothing else), else the stage's pin in the state store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from freightyard.shared.core.errors import ConfigError, FreightyardError, NotFoundError
from freightyard.shared.core.freight import Freight

if TYPE_CHECKING:
    from freightyard.shared.core.state import State


def freight_from_env(freight_json: str, freight_id: str) -> Freight:
    """Parse the generator's compact JSON and insist its recomputed id is ``freight_id``."""
    if not freight_id:
        raise ConfigError(
            [
                "ARGOCD_ENV_FREIGHT is set without ARGOCD_ENV_FREIGHT_ID; the generator sets both "
                "(a hand-written App should name only the pipeline and stage)"
            ]
        )
    try:
        freight = Freight.from_json(freight_json)
    except FreightyardError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError([f"ARGOCD_ENV_FREIGHT is not valid freight JSON ({type(error).__name__})"]) from error
    if freight.id != freight_id.strip():
        raise FreightyardError(
            f"ARGOCD_ENV_FREIGHT_ID {freight_id.strip()[:12]} does not match the freight's "
            f"recomputed id {freight.id[:12]}; the freight was altered or is stale"
        )
    return freight


def freight_from_state(state: State, stage: str, freight_id: str = "", app: str = "") -> Freight:
    """``freight_id`` (full id, unique prefix or alias) from the catalog, else ``app``'s pin in the
    stage (the combined freight it renders), else the stage's whole collection."""
    if freight_id:
        from freightyard.shared.core.state import find_freight

        return find_freight(state, freight_id)
    stage_state = state.stages.get(stage)
    pin = stage_state.apps.get(app) if stage_state and app else None
    if pin is not None:
        from freightyard.shared.core.freight import combine

        missing = [i for i in pin.freight.values() if i not in state.freight]
        if missing:
            raise NotFoundError(
                f"app {app!r} of stage {stage!r} is pinned to freight {missing[0][:12]}, not in the catalog"
            )
        return combine(state.freight[i] for i in pin.freight.values())
    freight = state.current_freight(stage)
    if freight is None:
        raise NotFoundError(f"stage {stage!r} has no freight yet: promote some first")
    return freight


def resolve(
    freight_json: str, freight_id: str, stage: str, state_loader: Callable[[], State] | None, app: str = ""
) -> Freight:
    if freight_json:
        return freight_from_env(freight_json, freight_id)
    if state_loader is None:
        raise ConfigError(
            [
                "no freight: the Application sets neither ARGOCD_ENV_FREIGHT (the generator does) "
                "nor does the sidecar have FREIGHTYARD_STATE to read the stage's pin from"
            ]
        )
    return freight_from_state(state_loader(), stage, freight_id, app)
