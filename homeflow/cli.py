"""The `homeflow` command: argument parsing and the subcommands; the work lives elsewhere."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

from homeflow import __version__, jsontext
from homeflow.addon import Addon, OptionsError, addon_settings, is_addon
from homeflow.asking import question_hint
from homeflow.defaults import init, load_settings
from homeflow.devices.speakers import library_problems
from homeflow.errors import HomeflowError
from homeflow.journal import Person, read_journal
from homeflow.logs import off_loop
from homeflow.people import first_person, profiles_of
from homeflow.planning import first_run, prepare_plan, safety_owed
from homeflow.probe import probe
from homeflow.process import serve_process
from homeflow.routine.plan import Cue, CueKind, Plan
from homeflow.routine.progression import Level, next_level
from homeflow.service import build_rooms, build_speakers
from homeflow.settings import SettingsError, summary
from homeflow.settings.model import CastSpeaker, LocalSpeaker, Settings, SonosSpeaker
from homeflow.settings.stops import stop_warnings
from homeflow.settings.voices import voice_warnings
from homeflow.speech import engine_problem
from homeflow.supervisor import AddonError
from homeflow.web.reach import reach_text, reachable_from_others

log = logging.getLogger("homeflow")

EXIT_BAD_CONFIG = 2
EXIT_BAD_ARGUMENT = 2
# What a shell reports for a program ended by SIGPIPE: `homeflow plan … | head` stops like any filter.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except SettingsError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_CONFIG
    except AddonError as exc:
        for line in exc.lines:
            print(f"homeflow: {line}", file=sys.stderr)
        return EXIT_BAD_CONFIG if isinstance(exc, OptionsError) else 1
    except HomeflowError as exc:
        print(f"homeflow: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read stdout has gone; point stdout at nothing so the flush at exit cannot fail too.
        with contextlib.suppress(OSError, ValueError):  # unless stdout is not a file (tests capture it)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        print(f"homeflow: unexpected error: {exc!r} (run with -v for details)", file=sys.stderr)
        return 1


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line on stderr and exit 2, without the usage text above it."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_ARGUMENT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="homeflow", description="Guided routines run by your home.")
    parser.add_argument("--version", action="version", version=f"homeflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # -v after the command too; SUPPRESS keeps a -v given before the command from being reset.
    verbose = _Parser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    config = _Parser(add_help=False, parents=[verbose])
    config.add_argument(
        "-c",
        "--config",
        type=Path,
        help="settings file (default $HOMEFLOW_CONFIG, then the add-on's options if $SUPERVISOR_TOKEN "
        "is set, then ./config/homeflow.yaml, then the bundled one)",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    check = sub.add_parser("check", parents=[config], help="validate the settings and routines")
    check.add_argument(
        "--probe", action="store_true", help="also ask every light and speaker whether it answers"
    )
    check.set_defaults(func=cmd_check)

    plan = sub.add_parser("plan", parents=[config], help="print a routine's timeline")
    plan.add_argument("routine", help="routine id (its file name without .yaml)")
    plan.add_argument("--json", action="store_true", help="print JSON")
    plan.add_argument(
        "--reps",
        type=_positive,
        help="plan at this repetition level (1 to the routine's reps.max) instead of the next run's",
    )
    plan.add_argument(
        "--profile", help="plan the next run of this profile (default: the routine's first profile)"
    )
    plan.set_defaults(func=cmd_plan)

    run = sub.add_parser("run", parents=[config], help="run the service")
    run.add_argument(
        "--time-scale",
        type=_time_scale,
        default=os.environ.get("HOMEFLOW_TIME_SCALE", "1"),  # a string: argparse checks it with the type
        help="run routines N times faster (demos, tests; default $HOMEFLOW_TIME_SCALE or 1)",
    )
    run.add_argument(
        "--mqtt-port",
        type=_port,
        default=os.environ.get("HOMEFLOW_MQTT_PORT"),
        help="the broker's port (and the embedded broker's), instead of mqtt.port; $HOMEFLOW_MQTT_PORT",
    )
    run.add_argument(
        "--http-port",
        type=_port,
        default=os.environ.get("HOMEFLOW_HTTP_PORT"),
        help="the dashboard's port, instead of http.port; $HOMEFLOW_HTTP_PORT",
    )
    run.set_defaults(func=cmd_run)

    start = sub.add_parser(
        "init", parents=[verbose], help="write starter settings, a secrets file and the routines to DIR"
    )
    start.add_argument("folder", metavar="DIR", type=Path, help="created if missing")
    start.set_defaults(func=cmd_init)

    pair = sub.add_parser(
        "pair", parents=[config], help="print a one-time link (and its QR code) that signs a browser in"
    )
    pair.set_defaults(func=cmd_pair)

    history = sub.add_parser("history", parents=[config], help="list past runs")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.add_argument("--limit", type=_positive, default=20, help="at most this many runs (default 20)")
    history.add_argument("--routine", help="only this routine")
    history.set_defaults(func=cmd_history)
    return parser


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 up, got {text!r}")
    return int(text)


def _time_scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0 (from --time-scale or $HOMEFLOW_TIME_SCALE), got {text!r}"
        )
    return scale


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def speech_fallback(settings: Settings) -> str | None:
    """The warning when local speakers will print what they would say: no speech engine here."""
    problem = engine_problem()
    if problem is None or not settings.speakers:
        return None
    if not all(isinstance(spec, LocalSpeaker) for spec in settings.speakers.values()):
        return None  # other speakers need the rendered clips: that stays a problem
    return f"homeflow: warning: {problem}; until then the steps are printed here, not spoken"


def device_problems(settings: Settings) -> list[str]:
    """What the settings ask for that this host lacks, found now rather than mid-routine."""
    problems = []
    if settings.speakers and not speech_fallback(settings) and (problem := engine_problem()):
        problems.append(f"{settings.path}: speakers: {problem}")
    problems += [f"{settings.path}: speakers: {p}" for p in library_problems(settings.speakers.values())]
    fetching = [n for n, s in settings.speakers.items() if isinstance(s, SonosSpeaker | CastSpeaker)]
    if fetching and settings.http.public_url is None and settings.http.bind in ("0.0.0.0", "::"):
        problems.append(
            f"{settings.path}: http.public_url: speaker {fetching[0]} fetches clips from homeflow: "
            "set http.public_url to this machine's address, e.g. http://192.168.1.20:8765"
        )
    return problems


def shared_lights(settings: Settings) -> list[str]:
    """Lights that automations give to more than one routine: only one of those runs at a time."""
    routines: dict[str, list[str]] = {}
    for automation in settings.automations:
        for light in automation.lights:
            names = routines.setdefault(light, [])
            if automation.routine not in names:
                names.append(automation.routine)
    return [
        f"light {light} is shared by routines {', '.join(names)}: "
        "while one of them runs, the others do not start"
        for light, names in routines.items()
        if len(names) > 1
    ]


def _settings(config: Path | None) -> Settings:
    """The settings a command runs with: those of `-c` (see `load_settings`), or inside the Home
    Assistant add-on, those its options and the Supervisor give."""
    if is_addon(config, os.environ):
        return asyncio.run(addon_settings(Addon.from_environment(os.environ)))
    return load_settings(config)


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if warning := speech_fallback(settings):
        print(warning, file=sys.stderr)
    problems = device_problems(settings)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_BAD_CONFIG
    print(summary(settings))
    for warning in shared_lights(settings):
        print(f"homeflow: warning: {warning}", file=sys.stderr)
    for warning in (*voice_warnings(settings), *stop_warnings(settings)):
        print(warning, file=sys.stderr)
    if args.probe:
        answers = asyncio.run(probe(settings))
        for answer in answers:
            print(answer)
        return 0 if all(answer.ok for answer in answers) else 1
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    routine = settings.routines.get(args.routine)
    if routine is None:
        return _unknown_routine(settings, args.routine)
    if args.reps is not None and args.reps > routine.reps.max:
        print(
            f"homeflow: --reps must be between 1 and {routine.reps.max} (reps.max of {routine.id}), "
            f"got {args.reps}",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGUMENT
    names = profiles_of(settings, routine.id)
    if args.profile is not None and args.profile not in names:
        known = ", ".join(names) or "none"
        print(
            f"homeflow: no profile {args.profile!r} for routine {routine.id} (profiles: {known})",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGUMENT
    name = args.profile or (names[0] if names else None)  # with profiles: the first one's level
    who = Person(name, first=name == names[0]) if name is not None else None
    with read_journal(settings.journal) as journal:  # the journal says the level and what was heard
        history = journal.feedback_history(routine.id, who) if args.reps is None else []
        owed = safety_owed(journal, routine, who)
        first = first_run(journal, routine, who)
    level = Level(args.reps, "as asked") if args.reps is not None else next_level(routine.reps, history)
    plan = asyncio.run(_timed_plan(settings, args.routine, level, safety=owed, first=first, profile=name))
    if args.json:
        print(jsontext.dumps({**plan.to_json(), "reps_reason": level.reason, "profile": name}, indent=2))
    else:
        print(format_plan(plan, level.reason, name))
    return 0


def _unknown_routine(settings: Settings, routine_id: str) -> int:
    known = ", ".join(sorted(settings.routines)) or "none"
    print(f"homeflow: no routine {routine_id!r} in {settings.routines_dir} (known: {known})", file=sys.stderr)
    return EXIT_BAD_ARGUMENT


async def _timed_plan(
    settings: Settings, routine_id: str, level: Level, *, safety: bool, first: bool, profile: str | None
) -> Plan:
    """The plan the service would play, timed by the speech it would render (cached), or by an
    estimate where there is no speech engine."""
    room = build_rooms(settings, {}, build_speakers(settings))[routine_id]
    rendered = room.speakers if engine_problem() is None else []
    hint = question_hint(room, profile)
    return await prepare_plan(room.routine, level, rendered, hint, safety=safety, first=first)


def clock_text(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def format_plan(plan: Plan, reason: str, profile: str | None = None) -> str:
    whose = f" for {profile}" if profile else ""
    kind = (
        ", a first run"
        if plan.conditions.first_run
        else ", the gentler run"
        if plan.conditions.gentle
        else ""
    )
    head = (
        f"{plan.routine_name} ({plan.routine_id}){whose}: {plan.reps} repetitions ({reason}){kind}, "
        f"{len(plan.steps)} steps, {clock_text(plan.total_s)} in all"
    )
    if plan.safety and not plan.safety_owed:
        head += "\nsafety introduction: heard; said again when its text changes"
    return "\n".join((head, "", *map(_cue_line, plan.cues)))


def _cue_line(cue: Cue) -> str:
    what = cue.describe()
    if cue.kind is CueKind.STEP:
        return f"\n{clock_text(cue.at):>8}  ── {what} ──"
    if cue.kind is CueKind.END:
        what = "end: lights restored, run logged"
    return f"{clock_text(cue.at):>8}  {cue.kind:<5}  {what}"


def cmd_history(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if args.routine is not None and args.routine not in settings.routines:
        return _unknown_routine(settings, args.routine)
    tz = ZoneInfo(settings.time_zone) if settings.time_zone else None
    ids = [args.routine] if args.routine else sorted(settings.routines)
    with read_journal(settings.journal) as journal:
        runs = journal.runs(routine=args.routine, limit=args.limit)
        summaries = {}
        for routine_id in ids:
            who = first_person(settings, routine_id)  # with profiles: the first one's
            level = next_level(settings.routines[routine_id].reps, journal.feedback_history(routine_id, who))
            summaries[routine_id] = {
                **journal.stats(routine_id, tz, who),
                "reps_level": level.reps,
                "reps_reason": level.reason,
                "levels": journal.levels(routine_id, who),
            }
    if args.json:
        print(jsontext.dumps({"routines": summaries, "runs": [r.to_json() for r in runs]}, indent=2))
        return 0
    for routine_id, s in summaries.items():
        last = s["last_completed"] or "never"
        days = s["streak_days"]
        print(
            f"{routine_id}: streak {days} day{'s' if days != 1 else ''}, last completed {last}, "
            f"next run {s['reps_level']} reps ({s['reps_reason']})"
        )
        if s["levels"]:
            print("  levels: " + ", ".join(f"{day} {reps}" for day, reps in s["levels"]))
    print()
    if not runs:
        made = not isinstance(settings.journal, Path) or settings.journal.exists()
        print(
            f"no runs yet in {settings.journal}"
            if made
            else f"no history yet: no journal at {settings.journal}"
        )
        return 0
    for r in runs:
        started = r.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        took = clock_text((r.ended_at - r.started_at).total_seconds()) if r.ended_at else "-"
        print(
            f"{r.id:>5}  {started}  {r.routine:<16} {r.status:<11} {r.reps:>3} reps  {took:>7}  "
            f"{r.trigger:<16} {r.feedback or ''}{f'  ({r.profile})' if r.profile else ''}"
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if args.time_scale <= 0:
        print(f"homeflow: --time-scale must be > 0, got {args.time_scale:g}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    for problem in device_problems(settings):
        print(problem, file=sys.stderr)
        return EXIT_BAD_CONFIG
    if warning := speech_fallback(settings):
        print(warning, file=sys.stderr)
    for warning in voice_warnings(settings):
        print(warning, file=sys.stderr)
    if args.mqtt_port is not None:
        settings = dataclasses.replace(settings, mqtt=dataclasses.replace(settings.mqtt, port=args.mqtt_port))
    if args.http_port is not None:
        settings = dataclasses.replace(settings, http=dataclasses.replace(settings.http, port=args.http_port))
    with off_loop():  # stopped on every way out: each line logged so far is written before the exit
        asyncio.run(serve_process(settings, args.time_scale))
    return 0


def cmd_pair(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if not settings.http.token:
        print(f"homeflow: {settings.path}: http.token is not set: the page asks nothing", file=sys.stderr)
        return 1
    print(reach_text(settings.http, qr=reachable_from_others(settings.http)), end="")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    written = init(args.folder)
    for path in written:
        print(f"wrote {path}")
    settings = args.folder / "homeflow.yaml"
    print(
        f"next: homeflow run -c {settings}  (it prints a link that signs your browser in; "
        f"the dashboard token is in {args.folder / 'secrets.yaml'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
