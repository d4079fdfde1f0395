"""``pin`` (record the freight; the generator points Apps at its commit) and ``none`` (record only)."""

from __future__ import annotations

from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext


class Pin:
    def promote(self, context: PromotionContext) -> MechanismResult:
        commit = context.freight.commits[0].id if context.freight.commits else ""
        chart = context.freight.charts[0].version if context.freight.charts and not commit else ""
        return MechanismResult("Succeeded", f"pinned {context.freight.alias}", revision=commit or chart)


class RecordOnly:
    def promote(self, context: PromotionContext) -> MechanismResult:
        return MechanismResult("Succeeded", "recorded (stage has no promotion mechanism)")
