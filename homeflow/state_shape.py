"""What a routine's state on `<base>/<routine>/state` may hold, field by field (homeflow/run_state.py
and `status.idle()` write it): a state another instance publishes is shown only in this shape, since
any client of the broker can publish on that topic."""

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


def _typed(value: object, kinds: tuple[type, ...]) -> bool:
    # A JSON true is a Python int: never a number here.
    return isinstance(value, kinds) and not isinstance(value, bool)


def well_formed(state: dict[str, Any]) -> dict[str, Any]:
    """The fields of `state` a routine's state has (others left out); ValueError saying which field is
    not as homeflow writes it."""
    kept = {key: value for key, value in state.items() if key in FIELDS}
    for key, value in kept.items():
        if not _typed(value, FIELDS[key]):
            raise ValueError(f"{key} is {type(value).__name__}")
    for key in TIMES:
        if key in kept:
            try:
                datetime.fromisoformat(kept[key])
            except ValueError:
                raise ValueError(f"{key} is not a time") from None
    for name, look in kept.get("lights", {}).items():
        if not isinstance(look, dict) or look.get("state") not in LIGHT_STATES:
            raise ValueError(f"light {name[:40]!r} is not a look")
        if any(key not in LOOK or not _typed(value, LOOK[key]) for key, value in look.items()):
            raise ValueError(f"light {name[:40]!r} is not a look")
    return kept
