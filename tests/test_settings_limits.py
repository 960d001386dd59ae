"""Whatever `homeflow check` passes, `homeflow run` runs: every size and every MQTT name is bounded, and
each breach is one located line (FILE:LINE:COL: key.path: what is wrong), exit 2, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from homeflow.cli import main
from homeflow.routine.plan import build_plan, estimate_speech_s
from homeflow.settings import load
from homeflow.settings.limits import (
    MAX_CLIENT_ID_CHARS,
    MAX_COUNT,
    MAX_CUES,
    MAX_SENTENCE_CHARS,
    MAX_TITLE_CHARS,
    MAX_TOPIC_CHARS,
)

from .conftest import Broker
from .harness import collecting, serving, write_settings

LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$")


def step(*actions: str, title: str = "Only step") -> str:
    body = "".join(f"      - {action}\n" for action in actions)
    return f"name: Limits\nsteps:\n  - title: {title}\n    do:\n{body}"


def check(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", "-c", str(folder / "homeflow.yaml")])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.strip().splitlines()


def one_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The single problem `check` reports, as `file:line:col: rest` with `rest` returned."""
    code, lines = check(folder, capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    match = LOCATED.match(lines[0])
    assert match, lines[0]
    return match["rest"]


def with_routine(folder: Path, routine: str, settings: str = "{}\n") -> Path:
    (folder / "routines").mkdir(exist_ok=True)
    (folder / "routines" / "r.yaml").write_text(routine, encoding="utf-8")
    (folder / "homeflow.yaml").write_text(settings, encoding="utf-8")
    return folder


NESTED = """\
name: Nested
steps:
  - title: Loops
    do:
      - repeat:
          times: 100
          do:
            - repeat:
                times: 100
                do:
                  - repeat: {times: 100, do: [{say: "Again."}]}
"""

ALIASES = """\
name: Laughs
a: &a [{say: "Ha."}, {say: "Ha."}, {say: "Ha."}, {say: "Ha."}, {say: "Ha."}, {say: "Ha."}, {say: "Ha."}]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
steps: [{title: Laugh, do: *g}]
"""

ROUTINE_CASES = {
    "count": (step("count: {to: 100000000}"), "steps[0].do[0].count.to: must be between 1 and 100"),
    "times": (
        step("repeat: {times: 1000000000, do: [{say: Again.}]}"),
        "steps[0].do[0].repeat.times: must be between 1 and 100",
    ),
    "step times": (
        "name: R\nsteps:\n  - repeat:\n      times: 5000\n      steps: [{title: T, do: [{say: Hi.}]}]\n",
        "steps[0].repeat.times: must be between 1 and 100",
    ),
    "values": (
        step("repeat: {for: n, in: [" + ", ".join(["x"] * 101) + "], do: [{say: '{n}'}]}"),
        "steps[0].do[0].repeat.in: at most 100 values, got 101",
    ),
    "nested": (NESTED, "steps: up to 1,000,001 cues"),
    "aliases": (ALIASES, "more than"),
    "say": (step("say: " + "a" * 400_000), "steps[0].do[0].say: too long (400000 characters); at most 500"),
    "placeholders": (  # one line, not 20,000 "unknown placeholder" ones
        step("say: '" + "".join(f"{{p{i}}}" for i in range(20_000)) + "'"),
        "steps[0].do[0].say: too long (148890 characters); at most 500",
    ),
    "filled in": (
        step("repeat: {for: w, in: [" + "b" * 90 + "], do: [{say: '" + "{w} " * 10 + "'}]}"),
        "steps[0].do[0].repeat.do[0].say: too long once filled in (up to 910 characters); at most 500",
    ),
    "title": (step("say: Hi.", title="t" * 101), "steps[0].title: too long (101 characters); at most 100"),
    "name": ("name: " + "n" * 101 + "\nsteps: [{title: T, do: [{say: Hi.}]}]\n", "name: too long"),
    "variable": (
        "name: R\nvariables: {n: 1000000}\nsteps: [{title: T, do: [{count: {to: '{n}'}}]}]\n",
        "steps[0].do[0].count.to: {n} is 1000000; it must be between 1 and 100",
    ),
    "reps": ("name: R\nreps: {start: 5, max: 1000000}\nsteps: [{title: T, do: [{say: Hi.}]}]\n", "reps.max"),
    "wait": (step("wait: 1000000000"), "steps: takes about 2.78e+05 h at 10 repetitions"),
    "long count": (  # 10 counts of 1000 s pass; at reps.max 100 they last 27.8 h
        step("count: {to: '{reps}', tempo: 1000}").replace(
            "\nsteps:", "\nreps: {start: 1, max: 100}\nsteps:"
        ),
        "steps: takes about 27.8 h at 100 repetitions (reps.max); at most 4 h",
    ),
    "feedback": (step("say: Hi.") + "feedback: {timeout: 1000000000}\n", "feedback.timeout"),
    "gap": (step("say: Hi.") + "limits: {min_gap_minutes: 1.0e+308}\n", "limits.min_gap_minutes"),
    "nul": (step('say: "Hi\\0there."'), "NUL"),
    "surrogate": (step('say: "Hi \\ud800."'), "surrogate"),
}


@pytest.mark.parametrize("case", list(ROUTINE_CASES))
def test_routine_sizes_are_bounded(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    routine, expected = ROUTINE_CASES[case]
    assert expected in one_error(with_routine(tmp_path, routine), capsys)


def test_a_huge_file_is_refused_before_it_is_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_routine(tmp_path, step("say: Hi.") + "#" * (2 * 1024 * 1024) + "\n")
    assert "larger than 1 MiB" in one_error(tmp_path, capsys)


SETTINGS_CASES = {
    "client id": ("mqtt: {client_id: " + "c" * 70_000 + "}\n", "mqtt.client_id: too long (70000 characters)"),
    "client id nul": ('mqtt: {client_id: "home\\0flow"}\n', "mqtt.client_id"),
    "base topic": ("mqtt: {base_topic: " + "t" * 200 + "}\n", "mqtt.base_topic: too long (200 characters)"),
    "base topic +": ("mqtt: {base_topic: home+flow}\n", "mqtt.base_topic: a topic cannot contain"),
    "discovery prefix": ("home_assistant: {discovery_prefix: " + "h" * 300 + "}\n", "discovery_prefix"),
    "z2m base": ("zigbee2mqtt: {base_topic: 'z2m/#'}\n", "zigbee2mqtt.base_topic"),
    "light +": (
        "lights: {lamp: {zigbee2mqtt: 'Lamp+1'}}\n",
        "lights.lamp.zigbee2mqtt: a friendly name cannot",
    ),
    "light #": ("lights: {lamp: {zigbee2mqtt: 'Lamp #1'}}\n", "lights.lamp.zigbee2mqtt"),
    "light long": ("lights: {lamp: {zigbee2mqtt: " + "L" * 129 + "}}\n", "lights.lamp.zigbee2mqtt: too long"),
    "button nul": ('buttons: {b: {zigbee2mqtt: "Button\\0"}}\n', "buttons.b.zigbee2mqtt"),
    "button long": ("buttons: {b: {zigbee2mqtt: " + "B" * 5000 + "}}\n", "buttons.b.zigbee2mqtt: too long"),
    "username": ("mqtt: {username: " + "u" * 70_000 + "}\n", "mqtt.username: too long"),
    "password": ("mqtt: {password: " + "p" * 70_000 + "}\n", "mqtt.password: too long"),
    "host": ("mqtt: {host: " + "h" * 300 + "}\n", "mqtt.host: too long"),
    "lead in": ("speakers: {s: {local: {lead_in: 1000000000}}}\n", "speakers.s.local.lead_in"),
    "journal nul": ('journal: "a\\0b.db"\n', "journal"),
    "announce": (
        "buttons: {b: {zigbee2mqtt: B}}\nautomations:\n  - routine: r\n    when:\n"
        "      - {at: '07:30', announce: " + "x" * 600 + "}\n",
        "automations[0].when[0].announce: too long (600 characters); at most 500",
    ),
    "area": (
        "automations: [{routine: r, area: " + "a" * 101 + "}]\n",
        "automations[0].area: too long (101 characters); at most 100",
    ),
}


@pytest.mark.parametrize("case", list(SETTINGS_CASES))
def test_settings_sizes_and_mqtt_names_are_bounded(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, expected = SETTINGS_CASES[case]
    assert expected in one_error(with_routine(tmp_path, step("say: Hi."), settings), capsys)


def test_every_problem_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    routine = step("count: {to: 100000000}", "say: " + "a" * 600, "repeat: {times: 1000, do: [{say: A.}]}")
    with_routine(tmp_path, routine, "mqtt: {client_id: '" + "c" * 200 + "', base_topic: 'a/#'}\n")
    code, lines = check(tmp_path, capsys)
    assert code == 2 and len(lines) == 5, lines
    assert all(LOCATED.match(line) for line in lines), lines


def test_the_limits_themselves_pass_and_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    routine = (
        f"name: {'n' * MAX_TITLE_CHARS}\n"
        "reps: {start: 1, max: 100}\n"
        "steps:\n"
        f"  - title: {'t' * MAX_TITLE_CHARS}\n"
        "    do:\n"
        f"      - say: {'s' * MAX_SENTENCE_CHARS}\n"
        f"      - count: {{to: {MAX_COUNT}, tempo: 1}}\n"
        "      - count: {to: '{reps}', tempo: 1}\n"
        "      - repeat: {times: 100, do: [{repeat: {times: 90, do: [{say: Again.}]}}]}\n"
    )
    settings = (
        f"mqtt: {{client_id: {'c' * MAX_CLIENT_ID_CHARS}, base_topic: {'b' * MAX_TOPIC_CHARS}}}\n"
        f"lights: {{lamp: {{zigbee2mqtt: {'L' * MAX_TOPIC_CHARS}}}}}\n"
    )
    code, lines = check(with_routine(tmp_path, routine, settings), capsys)
    assert code == 0, lines
    loaded = load(tmp_path / "homeflow.yaml").routines["r"]
    plan = build_plan(loaded, loaded.reps.max, estimate_speech_s)
    assert len(plan.cues) <= MAX_CUES


ROUTINE_AT_LIMITS = f"""\
name: At the limits
reps: {{start: 3, max: 100}}
steps:
  - title: {"T" * MAX_TITLE_CHARS}
    do:
      - say: {"Long sentence. " * (MAX_SENTENCE_CHARS // 15)}
      - count: {{to: "{{reps}}", tempo: 1}}
"""


async def test_names_at_their_limits_run_against_mosquitto(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    # The longest names check allows connect, subscribe and publish on a real broker.
    base = f"{prefix}/" + "b" * (MAX_TOPIC_CHARS - len(prefix) - 1)
    button = "Button " + "x" * (MAX_TOPIC_CHARS - 7)
    body = (
        f"buttons: {{b: {{zigbee2mqtt: '{button}'}}}}\n"
        "automations: [{routine: limits, when: [{button: b}]}]\n"
    )
    client_id = f"{prefix}-" + "c" * (MAX_CLIENT_ID_CHARS - 20)
    mqtt = {"base_topic": base, "client_id": client_id}
    config = write_settings(tmp_path, broker, prefix, body, {"limits": ROUTINE_AT_LIMITS}, mqtt=mqtt)
    load(config)  # passes check
    async with collecting(broker, f"{prefix}-watch", f"{base}/#") as seen, serving(config, seen, base):
        since, state = len(seen.messages), f"{base}/limits/state"
        await seen.client.publish(f"{prefix}/z2m/{button}", json.dumps({"action": "single"}))
        said = await seen.wait_for(f"{base}/limits/say", since=since)
        assert said.json["text"].startswith("Long sentence.")
        await seen.wait_for(state, lambda m: m.json["state"] == "running", since=since)
        since = len(seen.messages)
        await seen.client.publish(f"{base}/limits/set", "cancel")
        await seen.wait_for(state, lambda m: m.json["state"] == "idle", since=since)
