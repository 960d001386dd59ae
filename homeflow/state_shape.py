"""What a routine's state on `<base>/<routine>/state` may hold, field by field (homeflow/run_state.py
and `status.idle()` write it), and its figures on `…/stats` (homeflow/people.py `report`): what another
instance publishes is shown only in this shape, since any client of the broker can publish there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

_TEXT: tuple[type, ...] = (str,)
_WHOLE: tuple[type, ...] = (int,)
_NONE = type(None)

FIELDS: dict[str, tuple[type, ...]] = {
    "state": _TEXT,  # one of status.RoutineState, which the mirror checks
    "step": (str, _NONE),
    "step_index": (int, _NONE),
    "steps": _WHOLE,
    "next_step": (str, _NONE),
    "reps": _WHOLE,
    "run_id": (int, _NONE),
    "trigger": _TEXT,
    "started_at": _TEXT,
    "profile": _TEXT,
    "question": _TEXT,
    "ends_at": _TEXT,
    "step_started_at": _TEXT,
    "step_ends_at": _TEXT,
    "paused_at": _TEXT,
    "progress": _WHOLE,
    "degraded": _TEXT,
    "lights": (dict,),
}
TIMES = ("started_at", "ends_at", "step_started_at", "step_ends_at", "paused_at")
# A virtual light's look as the dashboard draws it (homeflow/devices/lights/virtual.py `shown`).
LOOK: dict[str, tuple[type, ...]] = {
    "state": _TEXT,
    "brightness": _WHOLE,
    "color_temp": _WHOLE,
    "transition": (int, float),
}
LIGHT_STATES = ("ON", "OFF")
STATS: dict[str, tuple[type, ...]] = {
    "last_completed": (str, _NONE),
    "streak_days": _WHOLE,
    "completed_today": _WHOLE,
    "reps_level": _WHOLE,
    "reps_reason": _TEXT,
    "towards": (dict, _NONE),
    "advice": (str, _NONE),
    "rest_until": (str, _NONE),
}
TOWARDS = ("good", "needed", "reps")


def _typed(value: object, kinds: tuple[type, ...]) -> bool:
    # A JSON true is a Python int: never a number here.
    return isinstance(value, kinds) and not isinstance(value, bool)


def _kept(data: dict[str, Any], fields: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    kept = {key: value for key, value in data.items() if key in fields}
    for key, value in kept.items():
        if not _typed(value, fields[key]):
            raise ValueError(f"{key} is {type(value).__name__}")
    return kept


def _time(kept: dict[str, Any], key: str) -> None:
    if isinstance(kept.get(key), str):
        try:
            datetime.fromisoformat(kept[key])
        except ValueError:
            raise ValueError(f"{key} is not a time") from None


def well_formed_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """The fields of `stats` a routine's figures have (others left out); ValueError as `well_formed`."""
    kept = _kept(stats, STATS)
    for key in ("last_completed", "rest_until"):
        _time(kept, key)
    towards = kept.get("towards")
    if towards is not None and (
        set(towards) != set(TOWARDS) or not all(_typed(v, _WHOLE) for v in towards.values())
    ):
        raise ValueError("towards is not good, needed and reps")
    return kept


def well_formed(state: dict[str, Any]) -> dict[str, Any]:
    """The fields of `state` a routine's state has (others left out); ValueError saying which field is
    not as homeflow writes it."""
    kept = _kept(state, FIELDS)
    for key in TIMES:
        _time(kept, key)
    for name, look in kept.get("lights", {}).items():
        if not isinstance(look, dict) or look.get("state") not in LIGHT_STATES:
            raise ValueError(f"light {name[:40]!r} is not a look")
        if any(key not in LOOK or not _typed(value, LOOK[key]) for key, value in look.items()):
            raise ValueError(f"light {name[:40]!r} is not a look")
    return kept
