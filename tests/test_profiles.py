"""Profiles: two people do the back massage in one home, each with a button of their own, and each keeps
a level, streak and history of their own; through a real broker and a real journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from homeflow.homeassistant.discovery import node_id
from homeflow.journal import RunStatus, open_journal
from homeflow.routine.model import Routine
from homeflow.routine.safety import fingerprint
from homeflow.settings import load
from homeflow.settings.model import ButtonTrigger, Profile
from homeflow.triggers.buttons import DUPLICATE_WINDOW_S

from .conftest import REPO
from .ha_schema import problems_of
from .harness import (
    Collector,
    ShiftedClock,
    collecting,
    recording_player,
    retained,
    serving,
    shipped_routine,
    write_settings,
)
from .mosquitto import Broker
from .test_guidance import PATIENT
from .test_home_assistant import render
from .test_settings import GOOD_ROUTINE, problems, write
from .web import STRETCH, Events, running

EDITS = {**PATIENT, "max_per_day: 2 ": "max_per_day: 3 ", "min_gap_minutes: 120": "min_gap_minutes: 0"}
PROFILES = """\
buttons:
  hall: {zigbee2mqtt: Hall Button}
  bedroom: {zigbee2mqtt: Bedroom Button}
speakers:
  room: {local: {player: PLAYER}}
automations:
  - routine: back-massage
    speakers: [room]
    profiles:
      anna: {button: hall}
      ben: {button: bedroom}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that is also the working directory, so problems show short relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_profiles_name_the_people_of_a_routine_and_their_buttons(here: Path) -> None:
    write(here, "routines/short.yaml", GOOD_ROUTINE)
    config = write(
        here,
        "homeflow.yaml",
        """\
        buttons:
          hall: {zigbee2mqtt: Hall}
          bedroom: {zigbee2mqtt: Bedroom}
        automations:
          - routine: short
            profiles:
              anna: {button: hall}
              ben: {button: bedroom}
              cleo:
        """,
    )
    [automation] = load(config).automations
    assert automation.profiles == (Profile("anna", "hall"), Profile("ben", "bedroom"), Profile("cleo"))
    # A profile's button starts the routine (for that person) without being listed under `when`.
    assert automation.when == (ButtonTrigger("hall"), ButtonTrigger("bedroom"))


def test_bad_profiles_are_located(here: Path) -> None:
    write(here, "routines/short.yaml", GOOD_ROUTINE)
    write(here, "routines/other.yaml", GOOD_ROUTINE)
    config = write(
        here,
        "homeflow.yaml",
        """\
        buttons:
          hall: {zigbee2mqtt: Hall}
        automations:
          - routine: short
            when: [button: hall]
            profiles:
              Anna: {}
              a-very-long-name-for-one-person-x: {}
              ben: {button: hal}
              cleo: {button: hall, age: 3}
              dora: {button: hall}
              eve: [1]
          - routine: other
            profiles: [anna]
          - routine: short
            profiles: {cleo: {}}
        """,
    )
    assert problems(config) == [
        "homeflow.yaml:7:7: automations[0].profiles.Anna: a profile name is 1 to 32 of a-z, 0-9, _ and -"
        ', starting with a letter or digit, got "Anna"',
        "homeflow.yaml:8:7: automations[0].profiles.a-very-long-name-for-one-person-x: a profile name is 1 to"
        ' 32 of a-z, 0-9, _ and -, starting with a letter or digit, got "a-very-long-name-for-one-person-x"',
        'homeflow.yaml:9:21: automations[0].profiles.ben.button: unknown button "hal"; did you mean "hall"?',
        'homeflow.yaml:10:28: automations[0].profiles.cleo.age: unknown key "age"; known: "button"',
        'homeflow.yaml:11:22: automations[0].profiles.dora.button: button "hall" is already cleo\'s',
        "homeflow.yaml:12:12: automations[0].profiles.eve: expected a mapping, got a list",
        "homeflow.yaml:14:15: automations[1].profiles: expected a mapping, got a list",
        'homeflow.yaml:16:16: automations[2].profiles.cleo: routine "short" already has a profile "cleo"'
        " (automations[0])",
    ]


class People:
    """The home: homeflow serving the back massage for Anna (hall button) and Ben (bedroom button)."""

    def __init__(self, config: Path, watch: Collector, base: str, prefix: str, clock: ShiftedClock) -> None:
        self.config, self.watch, self.base, self.prefix, self.clock = config, watch, base, prefix, clock

    def topic(self, name: str) -> str:
        return f"{self.base}/back-massage/{name}"

    async def press(self, button: str, action: str = "single") -> None:
        topic = f"{self.prefix}/z2m/{button.capitalize()} Button"
        await self.watch.client.publish(topic, json.dumps({"action": action}), qos=1)

    async def run(self, start: Any, answer: Any) -> dict[str, Any]:
        """Start a run with `start()`, answer its question with `answer()`; its last state while asking."""
        first = len(self.watch.messages)
        await start()
        asking = await self.watch.wait_for(
            self.topic("state"), lambda m: m.json["state"] == "asking", since=first, within=30
        )
        await answer()
        await self.watch.wait_for(self.topic("state"), lambda m: m.json["state"] == "idle", since=first + 1)
        self.clock.shift(DUPLICATE_WINDOW_S)  # the next press is a new press
        return dict(asking.json)

    def stats(self, profile: str) -> dict[str, Any]:
        return dict(self.watch.payloads(self.topic(f"stats/{profile}"))[-1])


@contextlib.asynccontextmanager
async def people(folder: Path, broker: Broker, prefix: str, cache: Path) -> AsyncIterator[People]:
    body = PROFILES.replace("PLAYER", str(recording_player(folder)))
    routines = {"back-massage": shipped_routine(EDITS)}
    config = write_settings(folder, broker, prefix, body, routines, cache=cache)
    base = f"{prefix}/hf"
    async with collecting(broker, f"{prefix}-watcher", f"{base}/#") as watch:
        clock = ShiftedClock(400)
        async with serving(config, watch, base, clock=clock):
            home = People(config, watch, base, prefix, clock)
            await watch.wait_for(home.topic("state"), lambda m: m.json["state"] == "idle")
            yield home


async def test_each_person_levels_up_on_their_own_answers(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with people(tmp_path, broker, prefix, speech_cache) as home:
        # Anna presses her button and answers "felt good" with it, twice: she goes up to 10.
        for _ in range(2):
            asking = await home.run(lambda: home.press("hall"), lambda: home.press("hall"))
            assert (asking["profile"], asking["reps"]) == ("anna", 5)
        anna = await home.watch.wait_for(home.topic("stats/anna"), lambda m: m.json["reps_level"] == 10)
        assert anna.json["completed_today"] == 2
        assert home.stats("ben")["reps_level"] == 5  # Ben's next run stays at 5
        assert home.stats("ben")["completed_today"] == 0

        # Ben's button starts Ben's run, at his own level; "too much" touches only him.
        asking = await home.run(lambda: home.press("bedroom"), lambda: home.press("bedroom", "double"))
        assert (asking["profile"], asking["reps"]) == ("ben", 5)
        # Over MQTT, `start:<profile>` names the person; Anna plays her 10.
        mqtt = home.watch.client
        start_anna = lambda: mqtt.publish(home.topic("set"), "start:anna", qos=1)  # noqa: E731
        good = lambda: mqtt.publish(home.topic("set"), "good", qos=1)  # noqa: E731
        asking = await home.run(start_anna, good)
        assert (asking["profile"], asking["reps"]) == ("anna", 10)
        # max_per_day counts each person's runs: Anna's third of the day is refused, Ben may go on.
        first = len(home.watch.messages)
        await mqtt.publish(home.topic("set"), "start:anna", qos=1)
        refused = await home.watch.wait_for(home.topic("event"), since=first)
        assert (refused.json["event"], refused.json["profile"]) == ("refused", "anna")
        asking = await home.run(lambda: mqtt.publish(home.topic("set"), "start:ben", qos=1), good)
        assert (asking["profile"], asking["reps"]) == ("ben", 5)
        assert home.stats("ben")["towards"]["good"] == 1
        # Ben's third run closes its question unanswered; a late "too much" is his, not Anna's.
        cancel = lambda: mqtt.publish(home.topic("set"), "cancel", qos=1)  # noqa: E731
        await home.run(lambda: home.press("bedroom"), cancel)
        first = len(home.watch.messages)
        await mqtt.publish(home.topic("set"), "too_much", qos=1)
        late = await home.watch.wait_for(home.topic("event"), since=first)
        assert (late.json["event"], late.json["profile"]) == ("answered", "ben")
        assert home.stats("ben")["towards"]["good"] == 0
        # An unknown person starts nothing.
        first = len(home.watch.messages)
        await mqtt.publish(home.topic("set"), "start:cleo", qos=1)
        await mqtt.publish(home.topic("set"), "start", qos=1)  # no name: the first profile, Anna
        started = await home.watch.wait_for(home.topic("event"), since=first)
        assert (started.json["event"], started.json["profile"]) == ("refused", "anna")  # her fourth

        anna_stats, ben_stats = home.stats("anna"), home.stats("ben")
        assert (anna_stats["completed_today"], anna_stats["reps_level"]) == (3, 10)
        assert (ben_stats["completed_today"], ben_stats["streak_days"], ben_stats["reps_level"]) == (3, 1, 5)
        # The routine's own stats topic shows its first profile's figures.
        assert home.watch.payloads(home.topic("stats"))[-1]["reps_level"] == 10

    settings = load(home.config)
    assert isinstance(settings.journal, Path)
    with open_journal(settings.journal) as journal:
        runs = [(r.profile, r.reps, r.feedback) for r in reversed(journal.runs("back-massage"))]
    assert runs == [
        ("anna", 5, "good"),
        ("anna", 5, "good"),
        ("ben", 5, "too_much"),
        ("anna", 10, "good"),
        ("ben", 5, "good"),
        ("ben", 5, "too_much"),
    ]
    # At start-up each person's level is replayed from their own runs: Anna 10, Ben 5.
    async with people(tmp_path, broker, prefix, speech_cache) as home:
        await home.watch.wait_for(home.topic("stats/anna"), lambda m: m.json["reps_level"] == 10)
        await home.watch.wait_for(home.topic("stats/ben"), lambda m: m.json["reps_level"] == 5)


async def test_home_assistant_has_a_sensor_set_per_person(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with people(tmp_path, broker, prefix, speech_cache) as home:
        node = node_id(home.base)
        wanted = {
            f"{prefix}/ha/{component}/{node}/back-massage_profile_{person}_{key}/config"
            for person in ("anna", "ben")
            for component, key in (
                ("button", "start"),
                *(("sensor", k) for k in ("streak", "last_completed", "reps")),
            )
        }
        configs: dict[str, Any] = {}
        async with asyncio.timeout(10):
            while not wanted <= set(configs):  # discovery goes out just after homeflow is ready
                await asyncio.sleep(0.05)
                found = await retained(broker, f"{prefix}-ha", f"{prefix}/ha/#")
                configs = {topic: json.loads(text) for topic, text in found.items() if text}
        for topic, config in configs.items():
            assert problems_of(topic, config) == [], topic
        stats = {p: home.watch.on(home.topic(f"stats/{p}"))[-1].text for p in ("anna", "ben")}
        for person in ("anna", "ben"):
            for sensor, value in (("streak", "0"), ("last_completed", "None"), ("reps", "5")):
                config = configs[f"{prefix}/ha/sensor/{node}/back-massage_profile_{person}_{sensor}/config"]
                assert config["state_topic"] == home.topic(f"stats/{person}")
                assert config["name"].startswith(person.capitalize())
                assert config["device"]["identifiers"] == [f"{node}_back-massage"]
                assert render(config["value_template"], stats[person]) == value
        # Each person's Start button in Home Assistant starts that person's run.
        start = configs[f"{prefix}/ha/button/{node}/back-massage_profile_ben_start/config"]
        first = len(home.watch.messages)
        await home.watch.client.publish(start["command_topic"], start["payload_press"], qos=1)
        started = await home.watch.wait_for(home.topic("event"), since=first)
        assert (started.json["event"], started.json["trigger"], started.json["profile"]) == (
            "started",
            "home_assistant",
            "ben",
        )
        await home.watch.client.publish(home.topic("set"), "cancel", qos=1)
        await home.watch.wait_for(home.topic("state"), lambda m: m.json["state"] == "idle", since=first + 1)


WEB_PROFILES = """\
automations:
  - routine: stretch
    profiles: {anna: {}, ben: {}}
"""


def test_the_web_starts_a_run_for_the_person_chosen(tmp_path: Path, broker: Broker) -> None:
    with running(tmp_path, broker, "webpeople", body=WEB_PROFILES) as service:
        listed = service.request("GET", "/api/routines").json()["routines"]
        stretch = next(r for r in listed if r["id"] == "stretch")
        assert [p["name"] for p in stretch["profiles"]] == ["anna", "ben"]
        assert [p["stats"]["reps_level"] for p in stretch["profiles"]] == [3, 3]
        assert next(r for r in listed if r["id"] == "back-massage")["profiles"] == []
        assert service.request("GET", "/api/routines/stretch/plan?profile=ben").json()["reps"] == 3

        events = Events(service)
        started = service.request("POST", "/api/routines/stretch/start", b'{"profile": "ben"}').json()
        assert started["result"] == "started by web"
        running_state = events.until(lambda e: e["routine"] == "stretch" and e["state"]["state"] == "running")
        assert running_state["state"]["profile"] == "ben"
        service.request("POST", "/api/routines/stretch/cancel")
        events.until(lambda e: e["routine"] == "stretch" and e["state"]["state"] == "idle")
        events.close()
        refused = service.request("POST", "/api/routines/stretch/start", b'{"profile": "cleo"}')
        assert (refused.status, refused.json()["error"]) == (
            400,
            "unknown profile 'cleo' of stretch; its profiles: anna, ben",
        )
        [run] = service.request("GET", "/api/runs?routine=stretch").json()["runs"]
        assert (run["profile"], run["trigger"]) == ("ben", "web")


async def test_each_person_hears_the_safety_introduction_and_the_ball_list_on_their_own_first_run(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    safety = tuple(yaml.safe_load(shipped_routine())["safety"])
    balls = "Any firm ball works. A tennis ball, a lacrosse ball, a golf ball, a baseball or a firm dog ball."
    async with people(tmp_path, broker, prefix, speech_cache) as home:

        async def said_in_run(button: str) -> list[tuple[str, str]]:
            first = len(home.watch.messages)
            await home.run(lambda: home.press(button), lambda: home.press(button))
            return [(p["kind"], p["text"]) for p in home.watch.payloads(home.topic("say"), since=first)]

        async def plan_of(profile: str) -> dict[str, Any]:
            """`homeflow plan --json --profile` of the person's next run, beside the running service."""
            command = ("plan", "back-massage", "-c", str(home.config), "--json", "--profile", profile)
            plan = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", *command, stdout=asyncio.subprocess.PIPE, cwd=REPO
            )
            out, _ = await asyncio.wait_for(plan.communicate(), 60)
            assert plan.returncode == 0
            shown: dict[str, Any] = json.loads(out)
            return shown

        anna_first = await said_in_run("hall")
        assert [text for kind, text in anna_first if kind == "safety"] == list(safety)
        assert ("say", balls) in anna_first
        # Ben has heard nothing yet: his plan, and then his first run, begin with the introduction.
        ben, anna = await plan_of("ben"), await plan_of("anna")
        assert (ben["safety_owed"], ben["first_run"], anna["safety_owed"], anna["first_run"]) == (
            True,
            True,
            False,
            False,
        )
        ben_first = await said_in_run("bedroom")
        assert [text for kind, text in ben_first if kind == "safety"] == list(safety)
        assert ben_first[0] == ("safety", safety[0]) and ("say", balls) in ben_first
        for button in ("hall", "bedroom"):  # each one's second run: neither the introduction nor the balls
            second = await said_in_run(button)
            assert not [text for kind, text in second if kind == "safety" or text == balls]
        ben = await plan_of("ben")
        assert (ben["safety_owed"], ben["first_run"]) == (False, False)


def test_the_web_preview_shows_each_persons_safety_and_first_run(tmp_path: Path, broker: Broker) -> None:
    said = ("Stop at once if it hurts.", "Move slowly.")
    stretch = STRETCH + "safety:\n" + "".join(f"  - {sentence}\n" for sentence in said)
    heard = fingerprint(Routine("stretch", "Neck stretch", (), safety=said))
    assert heard is not None

    def anna_did_it_once(journal_at: Path) -> None:
        with open_journal(journal_at) as journal:
            run = journal.start_run("stretch", "web", 3, 440.0, {}, profile="anna")
            journal.finish_run(run, RunStatus.COMPLETED)
            journal.record_safety("stretch", heard, "anna")

    routines = {"stretch": stretch}
    with running(
        tmp_path, broker, "websafety", body=WEB_PROFILES, routines=routines, history=anna_did_it_once
    ) as service:
        for profile, owed in (("anna", False), ("ben", True)):
            plan = service.request("GET", f"/api/routines/stretch/plan?profile={profile}").json()
            assert (plan["safety_owed"], plan["first_run"]) == (owed, owed), profile
            assert [c["text"] for c in plan["cues"] if c["kind"] == "safety"] == (list(said) if owed else [])
