"""Schedule triggers (`at` + `days`, or `cron`) and the time zone they are read in."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

from cronsim import CronSim, CronSimError

from homeflow.settings.checks import Checker
from homeflow.settings.limits import MAX_SENTENCE_CHARS
from homeflow.settings.model import ScheduleTrigger
from homeflow.settings.problems import child, hint, quote
from homeflow.settings.yamlnodes import Node, Scalar, Seq

SCHEDULE_KEYS = ("at", "days", "cron", "announce", "skip_if_done_today")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbers them from 0 = Sunday
_FULL_NAMES = dict(
    zip(DAYS, ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"), strict=True)
)
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
# minute hour day-of-month month day-of-week. cronsim also reads six fields, the first being seconds:
# a schedule that fires every few seconds would start a run again and again.
CRON_FIELDS = 5


def parse_time_zone(ch: Checker, node: Node | None) -> str | None:
    """An IANA time zone name such as Europe/Berlin; None means the system's."""
    name = ch.text(node, "time_zone")
    if node is None or name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        ch.report(node, "time_zone", f"unknown time zone {quote(name)} (expected e.g. Europe/Berlin)")
        return None
    return name


def parse_schedule(ch: Checker, node: Node, path: str) -> ScheduleTrigger | None:
    """`{at: "07:30", days: [mon, fri]}` or `{cron: "30 7 * * 1-5"}`; `announce`, `skip_if_done_today`."""
    f = ch.fields(node, path, SCHEDULE_KEYS)
    if ("at" in f) == ("cron" in f):
        ch.report(node, path, "a schedule needs either `at` (with optional `days`) or `cron`")
        return None
    if "cron" in f:
        if "days" in f:
            ch.report(
                f["days"], child(path, "days"), "`days` goes with `at`; put the days into the cron expression"
            )
        cron = _cron(ch, f["cron"], child(path, "cron"))
    else:
        cron = _at(ch, f["at"], f.get("days"), path)
    announce = ch.text(f.get("announce"), child(path, "announce"), most=MAX_SENTENCE_CHARS)
    skip = ch.boolean(f.get("skip_if_done_today"), child(path, "skip_if_done_today"), True)
    return None if cron is None else ScheduleTrigger(cron, announce, skip)


def _cron(ch: Checker, node: Node, path: str) -> str | None:
    expression = ch.text(node, path)
    if expression is None:
        return None
    if (count := len(expression.split())) != CRON_FIELDS:
        seconds = (
            " (six are read as seconds first: more than once a minute)" if count == CRON_FIELDS + 1 else ""
        )
        ch.report(
            node,
            path,
            f"expected 5 fields (minute hour day month weekday), got {count}{seconds}: {quote(expression)}",
        )
        return None
    try:
        CronSim(expression, datetime(2026, 1, 1))  # parses, or raises
    except CronSimError as error:
        ch.report(node, path, f"not a cron expression ({error}): {quote(expression)}")
        return None
    return expression


def _at(ch: Checker, node: Node, days: Node | None, path: str) -> str | None:
    text = ch.text(node, child(path, "at"))
    match = _TIME.fullmatch(text or "")
    if text is None or not match or int(match[1]) > 23 or int(match[2]) > 59:
        if text is not None:
            ch.report(node, child(path, "at"), f'expected a time like "07:30", got {quote(text)}')
        return None
    day_numbers = _days(ch, days, child(path, "days"))
    if day_numbers is None:
        return None
    return f"{int(match[2])} {int(match[1])} * * {day_numbers}"


def _days(ch: Checker, node: Node | None, path: str) -> str | None:
    """Cron's day-of-week field for a list of day names (every day when not given)."""
    if node is None:
        return "*"
    items = [node] if isinstance(node, Scalar) else ch.items(node, path) if isinstance(node, Seq) else None
    if items is None:
        ch.report(node, path, "expected a list of days such as [mon, tue, wed, thu, fri]")
        return None
    numbers: list[int] = []
    for item in items:
        written = ch.text(item, path) or ""
        name = written.lower()[:3]  # "monday" and "Mon" are "mon"
        if name not in DAYS or not _FULL_NAMES[name].startswith(written.lower()):
            ch.report(item, path, f"unknown day {quote(written)}{hint(name, DAYS)} (use {', '.join(DAYS)})")
            return None
        numbers.append(DAYS.index(name))
    return ",".join(str(n) for n in sorted(set(numbers)))
