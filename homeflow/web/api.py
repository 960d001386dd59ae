"""The JSON API: routines, their plans and commands, and the journal of runs."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from homeflow import jsontext
from homeflow.commands import ANSWERS, FORWARDED, OWNED_ELSEWHERE, Command
from homeflow.errors import HomeflowError
from homeflow.journal import JournalError, utcnow
from homeflow.language import DEFAULT
from homeflow.language.page import page_words
from homeflow.people import key
from homeflow.web.keys import CONDUCTOR, ApiError, needs_token

# The web may steer a routine like a button does, and answer its question (the open one, or late the
# last completed run's), and say the safety introduction; `toggle` is left to buttons, whose one key
# needs it.
COMMANDS = (
    Command.START,
    Command.PAUSE,
    Command.RESUME,
    Command.SKIP,
    Command.CANCEL,
    Command.GOOD,
    Command.TOO_MUCH,
    Command.HURT,
    Command.SAFETY,
)
TRIGGER = "web"
MAX_RUNS = 1000
_DIGITS = re.compile(r"[0-9]{1,6}")
# A command's body is at most 4 KiB, sent at once; a client trickling it holds a connection open.
BODY_TIMEOUT_S = 10.0


def now_text() -> str:
    return utcnow().isoformat(timespec="milliseconds")


async def health(request: web.Request) -> web.Response:
    """Liveness for container health checks: no token needed, nothing private told. `token` says
    whether this client must send one, so the page asks for it before calling anything that needs it."""
    status = request.app[CONDUCTOR].status
    health: dict[str, object] = {"status": "degraded" if status.degraded else "ok"}
    health["mqtt"] = status.mqtt.connected.is_set()
    health["token"] = needs_token(request)
    if status.degraded:
        health["problem"] = status.degraded
    return web.json_response(health, dumps=jsontext.dumps)


async def routines(request: web.Request) -> web.Response:
    conductor = request.app[CONDUCTOR]
    listed = [
        {
            "id": routine_id,
            "name": room.routine.name,
            "description": room.routine.description,
            "lang": room.routine.language,  # the page shows the routine, and its own words, in it
            "safety": list(room.routine.safety),
            # The routine's own end-of-run question (`feedback.ask`), shown while it is asked.
            "question": room.routine.feedback.question if room.routine.feedback else None,
            "state": conductor.status.live(routine_id),
            "stats": conductor.status.current_stats(routine_id),
            # Who does it, each with their own figures (none: one implicit person, `stats` above).
            "profiles": [
                {"name": name, "stats": conductor.status.current_stats(routine_id, name)}
                for name in room.profiles
            ],
        }
        for routine_id, room in conductor.rooms.items()
    ]
    # The page's own words in every language its routines speak (and the default, for a page with none).
    codes = sorted({DEFAULT, *(room.routine.language for room in conductor.rooms.values())})
    words = {code: dict(page_words(code)) for code in codes}
    # `now` lets a client count down to `ends_at` without trusting its own clock.
    return web.json_response({"now": now_text(), "routines": listed, "words": words}, dumps=jsontext.dumps)


async def plan(request: web.Request) -> web.Response:
    """The plan the next run would follow, timed by the same rendered speech."""
    conductor = request.app[CONDUCTOR]
    routine_id = _routine(request)
    profile = _profile(request, routine_id, request.query.get("profile")) or conductor.rooms[routine_id].first
    try:
        the_plan = await conductor.preview(routine_id, profile)
    except HomeflowError as exc:
        raise ApiError(503, f"cannot prepare the plan of {routine_id}: {exc}") from None
    level = conductor.levels[key(routine_id, profile)]
    return web.json_response({**the_plan.to_json(), "reps_reason": level.reason}, dumps=jsontext.dumps)


async def command(request: web.Request) -> web.Response:
    conductor = request.app[CONDUCTOR]
    routine_id = _routine(request)
    word = request.match_info["command"]
    if word not in COMMANDS:
        raise ApiError(404, f"unknown command {word!r}; use one of {', '.join(COMMANDS)}")
    allowed = ("force", "profile") if word == Command.START else ("run",) if word in ANSWERS else ()
    options = await _options(request, allowed=allowed)
    force = options.get("force", False)
    if not isinstance(force, bool):
        raise ApiError(400, f"force must be true or false, got {force!r}")
    run_id = options.get("run")  # an answer for one run of the History (a late one)
    if run_id is not None and (isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 1):
        raise ApiError(400, f"run must be a run's id (a whole number from 1), got {run_id!r}")
    answering = run_id if isinstance(run_id, int) else None
    profile = _profile(request, routine_id, options.get("profile"))
    # `force` starts beyond the routine's daily limits: a person at the dashboard knows better.
    what = Command.FORCE if force else Command(word)
    if conductor.owns(routine_id):
        result = conductor.command(routine_id, what, trigger=TRIGGER, profile=profile, run_id=answering)
        code = 200
    elif await conductor.forward(routine_id, what, profile):  # in a cluster: its owner acts on it
        result, code = FORWARDED, 202
    else:
        raise ApiError(503, f"{OWNED_ELSEWHERE} ({routine_id}), and the MQTT broker is not connected")
    return web.json_response(
        {
            "routine": routine_id,
            "command": word,
            "result": result,
            "state": conductor.status.live(routine_id),
        },
        status=code,
        dumps=jsontext.dumps,
    )


async def runs(request: web.Request) -> web.Response:
    conductor = request.app[CONDUCTOR]
    routine_id = request.query.get("routine") or None
    if routine_id is not None and routine_id not in conductor.rooms:
        raise ApiError(404, f"unknown routine {routine_id!r}")
    text = request.query.get("limit", "50")
    # ASCII digits only: str.isdigit() is true for "²", which int() refuses, and int() takes "٣".
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_RUNS:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_RUNS}, got {text[:20]!r}")
    try:
        records = conductor.journal.runs(routine=routine_id, limit=int(text))
    except JournalError as exc:
        raise ApiError(503, str(exc)) from None
    return web.json_response({"runs": [record.to_json() for record in records]}, dumps=jsontext.dumps)


def _profile(request: web.Request, routine_id: str, name: object) -> str | None:
    """A profile of the routine named by the client, or None when it names none."""
    if name is None:
        return None
    known = request.app[CONDUCTOR].rooms[routine_id].profiles
    if not isinstance(name, str) or name not in known:
        listed = ", ".join(known) or "none"
        raise ApiError(400, f"unknown profile {str(name)[:40]!r} of {routine_id}; its profiles: {listed}")
    return name


def _routine(request: web.Request) -> str:
    routine_id = request.match_info["routine"]
    if routine_id not in request.app[CONDUCTOR].rooms:
        raise ApiError(404, f"unknown routine {routine_id!r}")
    return routine_id


async def _options(request: web.Request, allowed: tuple[str, ...]) -> dict[str, object]:
    """A command's body: empty or a JSON object of `allowed` options; an unknown key is refused rather
    than silently ignored."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            body = await request.read()
    except TimeoutError:
        raise ApiError(408, f"the body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    if not body.strip():
        return {}
    try:
        options = jsontext.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON, NaN or Infinity, or nested too deeply
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(options).__name__}")
    if unknown := sorted(set(options) - set(allowed)):
        takes = ", ".join(allowed) if allowed else "none"
        raise ApiError(400, f"unknown option(s): {', '.join(unknown)}; this command takes {takes}")
    return options
