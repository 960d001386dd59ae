"""A hundred settings and routines drawn by Hypothesis with sizes, MQTT names and secrets at and past
their limits: `homeflow check` answers each with located problems (exit 2) or a clean pass (exit 0),
never a traceback, a hang or a memory blow-up; and the plan of what passes stays within the limits.

Each check runs in a child forked from a single-threaded worker process: the child gets a memory
ceiling (RLIMIT_AS, 512 MiB above the worker's own size) and the worker kills it after a timeout."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from homeflow.cli import main
from homeflow.routine.plan import CueKind, build_plan, estimate_speech_s
from homeflow.settings import load
from homeflow.settings.limits import MAX_CUES, MAX_PLAN_S, MAX_SENTENCE_CHARS, MAX_TITLE_CHARS

from .conftest import REPO

EXAMPLES = 100
TIMEOUT_S = 20.0
HEADROOM_BYTES = 512 * 1024 * 1024
LOCATED = re.compile(r"^[^\n:]+:\d+:\d+: \S.*$")


@dataclass(frozen=True)
class Case:
    settings: str
    routine: str
    secrets: str | None
    env: dict[str, str]


def yaml_text(text: str) -> str:
    """`text` as a YAML double-quoted scalar; NUL and lone surrogates become escapes."""
    return json.dumps(text, ensure_ascii=True)


CHARS = st.sampled_from(["a", "Z", "7", " ", "/", "+", "#", "\x00", "\ud800", "é", "{", "}", "-"])
SIZES = st.sampled_from([0, 1, 5, 23, 100, 101, 128, 129, 253, 254, 500, 501, 2000, 70_000, 400_000])
NUMBERS = st.sampled_from([0, 1, 2, 10, 99, 100, 101, 1000, 10**9, -1, 2**64])
SECONDS = st.sampled_from([0, 0.5, 3, 60, 3600, 14_400, 10**6, 1e308])
TOKENS = st.sampled_from(
    ["", "~", "!secret http_token", "!env HOMEFLOW_FUZZ_TOKEN", '"short"', '"0123456789abcdef-ok"']
)
SECRET_VALUES = st.sampled_from(["", "~", "short", "0123456789abcdef-ok", "'   '"])
COUNTS = st.sampled_from(["1", "100", "101", "100000000", '"{reps}"', '"{n}"', '"{round}"'])
TIMES = st.sampled_from(["1", "2", "100", "101", "1000000000", '"{reps}"', '"{n}"'])


@st.composite
def names(draw: st.DrawFn) -> str:
    """One letter repeated to a size near a limit, with a few odd characters mixed in; as YAML."""
    return yaml_text("n" * draw(SIZES) + "".join(draw(st.lists(CHARS, max_size=3))))


# Each knob: its value in a good routine, and values at and past its limit. A case puts a few knobs
# (often none) at the edge, so some cases pass and most have one problem or a handful.
KNOBS: dict[str, tuple[str, st.SearchStrategy[str]]] = {
    "client_id": ('"homeflow-fuzz"', names()),
    "base_topic": ('"homeflow"', names()),
    "username": ('"homeflow"', names()),
    "z2m_base": ('"zigbee2mqtt"', names()),
    "token": ("", TOKENS),
    "light": ('"Living Room Lamp"', names()),
    "button": ('"Massage Button"', names()),
    "lead_in": ("0.2", SECONDS.map(str)),
    "name": ('"Fuzz"', names()),
    "title": ('"Only step"', names()),
    "say": ('"Hello."', names()),
    "reps_max": ("10", NUMBERS.map(str)),
    "n": ("3", NUMBERS.map(str)),
    "timeout": ("30", SECONDS.map(str)),
    "gap": ("0", SECONDS.map(str)),
    "count": ("3", COUNTS),
    "tempo": ("1", SECONDS.map(str)),
    "wait": ("2", SECONDS.map(str)),
    "times": ("2", TIMES),
    "inner_times": ("", TIMES),  # "": no nested repeat
    "sides": ("2", NUMBERS.filter(lambda n: 0 < n < 2000).map(str)),
}

SIDES = "  - repeat: {for: side, in: %s, steps: [{title: '{side}', do: [{say: '{side} side.'}]}]}\n"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    edges = draw(st.sets(st.sampled_from(sorted(KNOBS)), max_size=4))
    v = {key: draw(edge) if key in edges else good for key, (good, edge) in KNOBS.items()}
    bind = "0.0.0.0" if "token" in edges and draw(st.booleans()) else "127.0.0.1"
    token = f", token: {v['token']}" if "token" in edges else ""
    settings_yaml = (
        f"mqtt: {{client_id: {v['client_id']}, base_topic: {v['base_topic']}, username: {v['username']}}}\n"
        f"zigbee2mqtt: {{base_topic: {v['z2m_base']}}}\n"
        f"http: {{bind: {bind}{token}}}\n"
        f"lights: {{lamp: {{zigbee2mqtt: {v['light']}}}}}\n"
        f"buttons: {{b: {{zigbee2mqtt: {v['button']}}}}}\n"
        f"speakers: {{s: {{local: {{lead_in: {v['lead_in']}}}}}}}\n"
        "automations: [{routine: r, when: [{button: b}], lights: [lamp], speakers: [s]}]\n"
    )
    repeat = f"{{repeat: {{times: {v['times']}, do: [{{say: 'Round {{round}}.'}}]}}}}"
    if v["inner_times"]:
        repeat = f"{{repeat: {{times: {v['inner_times']}, do: [{repeat}]}}}}"
    routine = (
        f"name: {v['name']}\n"
        f"reps: {{start: 1, max: {v['reps_max']}}}\n"
        f"variables: {{n: {v['n']}}}\n"
        f"feedback: {{timeout: {v['timeout']}}}\n"
        f"limits: {{min_gap_minutes: {v['gap']}}}\n"
        "steps:\n"
        f"  - title: {v['title']}\n"
        "    do:\n"
        f"      - say: {v['say']}\n"
        f"      - count: {{to: {v['count']}, tempo: {v['tempo']}}}\n"
        f"      - wait: {v['wait']}\n"
        f"      - {repeat}\n" + SIDES % json.dumps(["left"] * int(v["sides"]))
    )
    secrets = draw(st.none() | SECRET_VALUES.map(lambda value: f"http_token: {value}\n"))
    env = {"HOMEFLOW_FUZZ_TOKEN": draw(st.sampled_from(["", "short", "0123456789abcdef-ok"]))}
    return Case(settings_yaml, routine, secrets, env)


def drawn_cases() -> list[Case]:
    """EXAMPLES cases, derandomized: the same ones on every run."""
    found: list[Case] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def draw(case: Case) -> None:
        found.append(case)

    draw()
    return found


def worker() -> None:
    """Reads one JSON request a line and forks a child for it; answers with the child's exit code."""
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os._exit(_child(Path(request["folder"]), request["env"]))
        print(json.dumps(_wait(pid)), flush=True)


def _child(folder: Path, env: dict[str, str]) -> int:
    """`homeflow check` under a memory ceiling, and, when it passes, every routine planned at reps.max."""
    os.environ.update(env)
    status = Path("/proc/self/status").read_text().splitlines()
    vm_kb = next(int(row.split()[1]) for row in status if row.startswith("VmSize:"))
    ceiling = vm_kb * 1024 + HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    with (folder / "out").open("w") as out, (folder / "err").open("w") as err:
        sys.stdout, sys.stderr = out, err
        try:
            code = main(["check", "-c", str(folder / "homeflow.yaml")])
            if code != 0:
                return code
            for routine in load(folder / "homeflow.yaml").routines.values():
                plan = build_plan(routine, routine.reps.max, estimate_speech_s)
                said = max(len(cue.text or "") for cue in plan.cues if cue.kind is not CueKind.STEP)
                title = max(map(len, plan.steps))
                if len(plan.cues) > MAX_CUES + 3 or plan.total_s > MAX_PLAN_S:
                    print(f"plan too big: {len(plan.cues)} cues, {plan.total_s} s", file=err)
                    return 3
                if said > MAX_SENTENCE_CHARS or title > MAX_TITLE_CHARS:
                    print(f"plan text too long: {said} / {title} characters", file=err)
                    return 3
            return 0
        except BaseException as exc:  # anything at all is the finding, a MemoryError too
            print(f"check raised {exc!r}", file=err)
            return 4
        finally:
            out.flush()
            err.flush()


def _wait(pid: int) -> dict[str, object]:
    """The child's exit code, or a timeout once it is killed for taking too long."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"timeout": False, "code": os.waitstatus_to_exitcode(status)}
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return {"timeout": True, "code": None}


def test_a_hundred_bad_settings_each_give_located_errors_or_a_clean_check(tmp_path: Path) -> None:
    drawn = drawn_cases()
    assert len(drawn) == EXAMPLES
    outcomes: Counter[str] = Counter()
    with subprocess.Popen(
        [sys.executable, "-c", "from tests.test_settings_fuzz import worker; worker()"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        for number, case in enumerate(drawn):
            folder = tmp_path / f"case{number}"
            (folder / "routines").mkdir(parents=True)
            (folder / "homeflow.yaml").write_text(case.settings, encoding="utf-8")
            (folder / "routines" / "r.yaml").write_text(case.routine, encoding="utf-8")
            if case.secrets is not None:
                (folder / "secrets.yaml").write_text(case.secrets, encoding="utf-8")
            process.stdin.write(json.dumps({"folder": str(folder), "env": case.env}) + "\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline())
            err = (folder / "err").read_text(encoding="utf-8", errors="replace")
            shown = f"case {number}:\n{case.settings}\n{case.routine[:2000]}\n--- stderr:\n{err[:2000]}"
            assert not answer["timeout"], f"check did not end within {TIMEOUT_S} s; {shown}"
            assert "Traceback" not in err, shown
            if answer["code"] == 0:
                outcomes["clean"] += 1
            else:
                assert answer["code"] == 2, shown
                lines = err.strip().splitlines()
                assert lines and all(LOCATED.match(line) for line in lines), shown
                outcomes["errors"] += 1
        process.stdin.close()
    print(f"\n{EXAMPLES} drawn: {outcomes['errors']} refused with located errors, {outcomes['clean']} clean")
    assert outcomes["errors"] > 0 and outcomes["clean"] > 0, outcomes
