"""Promotion windows with Argo CD sync-window semantics, evaluated at an injected time.

Argo CD's rules: a window is active from each time its cron ``schedule`` fires (in its ``timeZone``) for
``duration`` of elapsed time. Any active deny window blocks; when a stage has allow windows, at least one must
be active; deny wins over allow. Elapsed time (not wall-clock time) is what Argo CD's Go ``time.Add`` does, so
a 63h freeze that spans a DST change ends 63 real hours after it began. Pure: no clock, no I/O.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from croniter import croniter

from freightyard.shared.core.model import Window

MAX_STEPS = 64  # bound on the window edges walked when looking for the next opening


@dataclass(frozen=True)
class Gate:
    """Whether a stage's windows let a promotion in at a moment, and why (not)."""

    open: bool
    reason: str = ""
    window: Window | None = None  # the deny window in force (or the allow window that is open)
    until: dt.datetime | None = None  # when ``window`` ends (deny/allow) or the next allow opens


def schedule_problem(schedule: str) -> str:
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        return f'"{schedule}" is not a 5-field cron schedule (e.g. "0 18 * * 5")'
    return ""


def zone_problem(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f'unknown time zone "{name}" (use an IANA name, e.g. Europe/Berlin)'
    return ""


def active_span(window: Window, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The (start, end) of ``window``'s occurrence covering ``now``, if one does."""
    zone = zoneinfo.ZoneInfo(window.time_zone)
    length = dt.timedelta(seconds=window.duration_seconds)
    local = (now - length).astimezone(zone)
    start = croniter(window.schedule, local).get_next(dt.datetime)
    if start.astimezone(dt.UTC) <= now < start.astimezone(dt.UTC) + length:
        begin = start.astimezone(dt.UTC)
        return begin, begin + length
    return None


def next_start(window: Window, now: dt.datetime) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(window.time_zone)
    start: dt.datetime = croniter(window.schedule, now.astimezone(zone)).get_next(dt.datetime)
    return start.astimezone(dt.UTC)


def gate(windows: tuple[Window, ...], now: dt.datetime) -> Gate:
    """May a promotion happen at ``now``?"""
    now = now.astimezone(dt.UTC)
    denies = [(w, span) for w in windows if w.kind == "deny" for span in [active_span(w, now)] if span]
    if denies:
        window, (_, end) = max(denies, key=lambda pair: pair[1][1])
        return Gate(False, f"inside {window.describe()} until {_when(end, window)}", window, end)
    allows = [w for w in windows if w.kind == "allow"]
    if not allows:
        return Gate(True)
    for window in allows:
        span = active_span(window, now)
        if span:
            return Gate(True, f"inside {window.describe()} until {_when(span[1], window)}", window, span[1])
    opening = next_open(windows, now)
    first = min(allows, key=lambda w: next_start(w, now))
    when = f"; it next opens at {_when(opening, first)}" if opening else ""
    return Gate(False, f"outside every allow window{when}", None, opening)


def next_open(windows: tuple[Window, ...], now: dt.datetime) -> dt.datetime | None:
    """The first moment after ``now`` at which ``gate`` is open (None: not within ``MAX_STEPS`` edges)."""
    moment = now.astimezone(dt.UTC)
    for _ in range(MAX_STEPS):
        if gate_open(windows, moment):
            return moment
        edges = []
        for window in windows:
            span = active_span(window, moment)
            edges.append(span[1] if span else next_start(window, moment))
        moment = min(edges)
    return None


def gate_open(windows: tuple[Window, ...], now: dt.datetime) -> bool:
    if any(w.kind == "deny" and active_span(w, now) for w in windows):
        return False
    allows = [w for w in windows if w.kind == "allow"]
    return not allows or any(active_span(w, now) for w in allows)


def _when(moment: dt.datetime, window: Window) -> str:
    local = moment.astimezone(zoneinfo.ZoneInfo(window.time_zone))
    return local.strftime("%Y-%m-%d %H:%M %Z") + ("" if window.time_zone == "UTC" else f" ({moment:%H:%M} UTC)")
