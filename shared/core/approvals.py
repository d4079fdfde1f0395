"""N-of-M approval rules: which approvals count for a stage and, when too few do, a reason naming them.

Distinct people count (the same person twice counts once); with ``groups`` an approval counts only when its
approver belongs to one of them; with ``separateFromPromoter`` the promoter's own approval does not count.
Groups come from the caller's identity (``--group`` in the CLI, Argo CD's proxy headers in the UI API),
never from the request body of a UI call. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from freightyard.shared.core.gates import Approval
from freightyard.shared.core.model import ApprovalRule


@dataclass(frozen=True)
class Tally:
    counted: tuple[Approval, ...]
    ignored: tuple[tuple[Approval, str], ...]  # approval, why it does not count
    required: int

    @property
    def met(self) -> bool:
        return len(self.counted) >= self.required

    def fraction(self) -> str:
        return f"{len(self.counted)}/{self.required} approvals"


def tally(rule: ApprovalRule, approvals: list[Approval], promoter: str = "") -> Tally:
    counted: dict[str, Approval] = {}
    ignored: list[tuple[Approval, str]] = []
    wanted = " or ".join(rule.groups)
    for approval in approvals:
        if rule.groups and not set(approval.groups) & set(rule.groups):
            ignored.append((approval, f"{approval.by} is not in {wanted}"))
        elif rule.separate_from_promoter and promoter and approval.by == promoter:
            ignored.append((approval, f"{approval.by} promotes, so their own approval does not count"))
        else:
            counted.setdefault(approval.by, approval)
    return Tally(tuple(counted.values()), tuple(ignored), rule.required)


def refusal(stage: str, rule: ApprovalRule, result: Tally) -> str:
    """'prod needs 2 approvals from sre or release; has 1 (alice, 2026-12-03)'."""
    who = f" from {' or '.join(rule.groups)}" if rule.groups else ""
    noun = "approval" if rule.required == 1 else "approvals"
    names = ", ".join(f"{a.by}, {a.at[:10]}" for a in result.counted)
    line = f"{stage} needs {rule.required} {noun}{who}; has {len(result.counted)}" + (f" ({names})" if names else "")
    if result.ignored:
        line += "; not counted: " + "; ".join(why for _, why in result.ignored)
    return line
