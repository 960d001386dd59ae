"""Warnings about stop rules: a routine that asks how it felt and has a safety text but no `stop`
repeats only the advice to rest after "it hurt", so `homeflow check` says where."""

from __future__ import annotations

from homeflow.settings.model import Settings


def stop_warnings(settings: Settings) -> list[str]:
    """`FILE:LINE:COL: warning: stop: …` for each routine with `safety` and `feedback` but no `stop`."""
    return [
        f'{routine.safety_at}: warning: stop: missing in routine {routine.id}: after "it hurt" only the '
        "advice to rest is repeated; list the safety sentences to repeat then (when to stop at once, when "
        "to get urgent care) under stop:"
        for routine in settings.routines.values()
        if routine.safety and routine.feedback is not None and not routine.stop
    ]
