"""The "it hurt" path, through a real broker and HTTP on loopback: the default button says it by holding,
a run cancelled mid-way asks whether it hurt and keeps the answer on that run, a late "it hurt" from the
page lands on the cancelled run, Home Assistant's button answers the same question; afterwards the stop
rules are repeated, a day of rest is enforced with its reason, and the next plan is the gentle one. A
room without a button is never told to press."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homeflow.asking import cancel_question
from homeflow.defaults import ROUTINES, load_settings
from homeflow.homeassistant.discovery import node_id
from homeflow.journal import Database, RunRecord, RunStatus, open_journal
from homeflow.language import phrases
from homeflow.planning import replies
from homeflow.routine.guidance import CANCELLED, SHOWN_ADVICE, rest_refusal, stop_rules
from homeflow.routine.progression import Feedback, Level
from homeflow.settings import load
from homeflow.settings.model import Zigbee2MqttButton
from homeflow.triggers.buttons import DUPLICATE_WINDOW_S

from .harness import collecting, retained, serving, shipped_routine, write_settings
from .home import Home, home, safety_heard
from .mosquitto import Broker, free_port
from .test_answers import EDITS, GENTLE, HURT_REPLY, QUESTION, REST, STOPS, said, until_asking, until_idle
from .test_defaults import homeflow
from .test_profiles import people
from .test_settings import problems, write

HOLD_HINT = (
    "With the massage button, press once if it felt good, twice if it was too much, "
    "or hold it down if it hurt."
)
DID_IT_HURT = "Did it hurt? With the massage button, hold it down if it hurt."
DID_IT_HURT_ELSEWHERE = "Did it hurt? If it did, choose It hurt on the dashboard or in Home Assistant."
ELSEWHERE = "Answer on the dashboard or in Home Assistant: felt good, too much, or it hurt."
GENTLE_REASON = "the last run hurt: gently, at 3 instead of 5"
SLOW = 20  # the routine's first step lasts seconds: time to cancel it mid-way


def runs(config_folder: Path) -> list[RunRecord]:
    with open_journal(config_folder / "journal.db") as journal:
        return journal.runs()


def an_old_completed_run(folder: Path) -> int:
    """A completed run nobody answered, journaled before homeflow starts: what a late answer used to hit."""
    with open_journal(folder / "journal.db") as journal:
        done = journal.start_run("back-massage", "mqtt", 5, 10.0, {})
        journal.finish_run(done, RunStatus.COMPLETED)
        return done


async def cancel_mid_run(h: Home, cancel: Callable[[], Awaitable[object]]) -> int:
    """Start with the button, cancel with `cancel()` once the run is going; the index after the cancel."""
    first = len(h.watch.messages)
    await h.press("single")
    await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "running", since=first)
    h.clock.shift(DUPLICATE_WINDOW_S)
    mark = len(h.watch.messages)
    await cancel()
    await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "cancelled", since=mark)
    return mark


async def refused_with_rest(h: Home) -> None:
    mark = len(h.watch.messages)
    h.clock.shift(DUPLICATE_WINDOW_S)
    await h.press("single")
    refused = await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "refused", since=mark)
    assert refused.json["reason"] == REST
    assert (await h.watch.wait_for(h.topic("say"), since=mark)).json["text"] == REST
    h.clock.shift(DUPLICATE_WINDOW_S)


async def api(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{port}{path}", json=body) as reply,
    ):
        assert reply.status == 200, await reply.text()
        return await reply.json()


async def test_holding_the_default_button_says_it_hurt_then_a_day_of_rest_and_a_gentle_plan(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    port = free_port()
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS, http_port=port) as h:
        first = await until_asking(h, lambda: h.press("single"))
        assert said(h, first)[-1] == f"{QUESTION} {HOLD_HINT}"
        h.clock.shift(DUPLICATE_WINDOW_S)
        await h.press("hold")
        stats = await until_idle(h, first)
        assert said(h, first)[-1] == HURT_REPLY  # the stop rules, repeated
        assert (stats["reps_reason"], stats["advice"]) == (GENTLE_REASON, f"{SHOWN_ADVICE} {STOPS}")
        (hurt,) = runs(tmp_path)
        assert (hurt.status, hurt.feedback) == (RunStatus.COMPLETED, Feedback.HURT)
        assert hurt.ended_at is not None  # the page shows Start refused until the rest is over
        rest_until = datetime.fromisoformat(stats["rest_until"])
        assert abs(rest_until - hurt.ended_at - timedelta(hours=24)) < timedelta(seconds=1)

        await refused_with_rest(h)
        shown = await api(port, "GET", "/api/routines/back-massage/plan")
        assert (shown["reps"], shown["reps_reason"], shown["cues"][1]["text"]) == (3, GENTLE_REASON, GENTLE)

        h.clock.pass_hours(24)  # rested: the next run starts, gently, and says that it hurt last time
        first = await until_asking(h, lambda: h.press("single"))
        assert said(h, first)[0] == GENTLE
        h.clock.shift(DUPLICATE_WINDOW_S)
        await h.press("single")  # felt good: no more advice, no rest
        stats = await until_idle(h, first)
        assert (stats["advice"], stats["rest_until"]) == (None, None)


async def test_a_run_cancelled_mid_way_asks_whether_it_hurt_and_keeps_the_answer_on_that_run(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    older = an_old_completed_run(tmp_path)
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS, time_scale=SLOW) as h:
        mark = await cancel_mid_run(h, lambda: h.press("hold"))
        asking = await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "asking", since=mark)
        assert asking.json["question"] == "did_it_hurt"  # a page offers "It hurt" alone
        assert said(h, mark)[-2:] == [CANCELLED, DID_IT_HURT]
        h.clock.shift(DUPLICATE_WINDOW_S)
        await h.press("hold")  # yes, it hurt
        stats = await until_idle(h, mark)
        assert said(h, mark)[-1] == HURT_REPLY
        assert (stats["reps_reason"], stats["advice"]) == (GENTLE_REASON, f"{SHOWN_ADVICE} {STOPS}")
        await refused_with_rest(h)
    cancelled, completed = runs(tmp_path)
    assert (cancelled.status, cancelled.feedback) == (RunStatus.CANCELLED, Feedback.HURT)
    assert (completed.id, completed.feedback) == (older, None)


async def test_a_late_it_hurt_from_the_page_lands_on_the_cancelled_run(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    older = an_old_completed_run(tmp_path)
    port = free_port()
    edits = {"min_gap_minutes: 120": "min_gap_minutes: 0"}  # the question's own timeout: it closes soon
    async with home(
        tmp_path, broker, prefix, speech_cache, edits=edits, time_scale=SLOW, http_port=port
    ) as h:
        mark = await cancel_mid_run(h, lambda: h.client.publish(h.topic("set"), "cancel", qos=1))
        await until_idle(h, mark)  # nobody answered "did it hurt?" in time

        answered = await api(port, "POST", "/api/routines/back-massage/hurt")
        cancelled = runs(tmp_path)[0]
        assert answered["result"] == f"late feedback hurt for run {cancelled.id}: next run 3 repetitions"
        refused = await api(port, "POST", "/api/routines/back-massage/start")
        assert refused["result"] == f"not started: {REST}"
        shown = await api(port, "GET", "/api/routines/back-massage/plan")
        assert (shown["reps_reason"], shown["cues"][1]["text"]) == (GENTLE_REASON, GENTLE)
    cancelled, completed = runs(tmp_path)
    assert (cancelled.status, cancelled.feedback) == (RunStatus.CANCELLED, Feedback.HURT)
    assert (completed.id, completed.feedback) == (older, None)


async def test_home_assistants_it_hurt_button_answers_the_question_after_a_cancel(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache, edits=EDITS, time_scale=SLOW) as h:
        mark = await cancel_mid_run(h, lambda: h.client.publish(h.topic("set"), "cancel", qos=1))
        await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "asking", since=mark)
        node = node_id(h.base)  # Home Assistant's "It hurt" button, pressed as Home Assistant does
        configs = await retained(broker, f"{prefix}-ha", f"{prefix}/ha/button/{node}/#")
        hurt = json.loads(configs[f"{prefix}/ha/button/{node}/back-massage_hurt/config"])
        await h.client.publish(hurt["command_topic"], hurt["payload_press"], qos=1)
        stats = await until_idle(h, mark)
        assert stats["reps_reason"] == GENTLE_REASON
        await refused_with_rest(h)
    assert [(r.status, r.feedback) for r in runs(tmp_path)] == [(RunStatus.CANCELLED, Feedback.HURT)]


async def test_a_room_without_a_button_is_not_told_to_press(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    body = "automations: [{routine: back-massage}]\n"
    routines = {"back-massage": shipped_routine(EDITS)}
    port = free_port()
    config = write_settings(tmp_path, broker, prefix, body, routines, cache=speech_cache, http={"port": port})
    safety_heard(config)
    base = f"{prefix}/hf"
    state, say, command = f"{base}/back-massage/state", f"{base}/back-massage/say", f"{base}/back-massage/set"
    async with collecting(broker, f"{prefix}-watch", f"{base}/#") as watch:

        def spoken(since: int) -> list[str]:
            return [p["text"] for p in watch.payloads(say, since=since)]

        async with serving(config, watch, base, time_scale=400):
            shown = await api(port, "GET", "/api/routines/back-massage/plan")
            assert shown["cues"][-1]["text"] == f"{QUESTION} {ELSEWHERE}"
            first = len(watch.messages)
            await watch.client.publish(command, "start", qos=1)
            await watch.wait_for(state, lambda m: m.json["state"] == "asking", since=first, within=30)
            assert spoken(first)[-1] == f"{QUESTION} {ELSEWHERE}"
            await watch.client.publish(command, "good", qos=1)
            await watch.wait_for(state, lambda m: m.json["state"] == "idle", since=first + 1)

        async with serving(config, watch, base, time_scale=SLOW):  # slow enough to cancel mid-way
            first = len(watch.messages)
            await watch.client.publish(command, "start", qos=1)
            await watch.wait_for(state, lambda m: m.json["state"] == "running", since=first)
            mark = len(watch.messages)
            await watch.client.publish(command, "cancel", qos=1)
            await watch.wait_for(state, lambda m: m.json["state"] == "asking", since=mark)
            assert spoken(mark)[-2:] == [CANCELLED, DID_IT_HURT_ELSEWHERE]
            await watch.client.publish(command, "hurt", qos=1)  # over MQTT
            await watch.wait_for(state, lambda m: m.json["state"] == "idle", since=mark + 1)
    assert not [text for text in spoken(0) if re.search(r"\bpress\b", text, re.IGNORECASE)]
    assert [(r.status, r.feedback) for r in runs(tmp_path)] == [
        (RunStatus.CANCELLED, Feedback.HURT),
        (RunStatus.COMPLETED, Feedback.GOOD),
    ]


def test_the_rest_after_it_hurt_is_a_bounded_routine_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = tmp_path
    write(here, "homeflow.yaml", "routines: routines/\n")
    write(
        here,
        "routines/r.yaml",
        """\
        name: R
        limits:
          rest_after_hurt_hours: 200
        steps: [{title: A, do: [say: Hi.]}]
        """,
    )
    assert problems(Path("homeflow.yaml")) == [
        "routines/r.yaml:3:26: limits.rest_after_hurt_hours: must be at most 168, got 200"
    ]
    write(
        here,
        "routines/r.yaml",
        "name: R\nlimits: {rest_after_hurt_hours: 0.5}\nsteps: [{title: A, do: [say: Hi.]}]\n",
    )
    assert load(Path("homeflow.yaml")).routines["r"].limits.rest_after_hurt_s == 1800


CALM = textwrap.dedent("""\
    name: Calm
    feedback: true
    safety:
      - Breathe slowly throughout.
      - Quit right away if your chest feels tight.
      - Call emergency services when you faint.
    steps: [{title: A, do: [say: Hi.]}]
    """)


def test_the_stop_rules_repeated_after_it_hurt_are_the_routines_stop_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "homeflow.yaml", "routines: routines/\n")
    stop = "stop: Quit right away if your chest feels tight. Call emergency services when you faint.\n"
    write(tmp_path, "routines/calm.yaml", CALM + stop)
    calm = load(Path("homeflow.yaml")).routines["calm"]
    rules = "Quit right away if your chest feels tight. Call emergency services when you faint."
    assert calm.stop == tuple(calm.safety[1:]) and stop_rules(calm) == rules
    [hurt] = [r for r in replies(calm, Level(3, "hurt", gentle=True)) if r.startswith("I am sorry")]
    assert hurt.endswith(f"see a doctor or a physiotherapist. {rules}")
    checked = homeflow("check", "-c", "homeflow.yaml", cwd=tmp_path)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr

    # Without `stop:` nothing of the safety text is repeated, and `check` says where to add it.
    write(tmp_path, "routines/calm.yaml", CALM)
    calm = load(Path("homeflow.yaml")).routines["calm"]
    [hurt] = [r for r in replies(calm, Level(3, "hurt", gentle=True)) if r.startswith("I am sorry")]
    assert stop_rules(calm) == "" and hurt.endswith("see a doctor or a physiotherapist.")
    checked = homeflow("check", "-c", "homeflow.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert [line for line in checked.stderr.splitlines() if "warning" in line] == [
        'routines/calm.yaml:4:3: warning: stop: missing in routine calm: after "it hurt" only the advice '
        "to rest is repeated; list the safety sentences to repeat then (when to stop at once, when to get "
        "urgent care) under stop:"
    ]


def test_the_stop_rules_are_bounded_like_the_safety_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "homeflow.yaml", "routines: routines/\n")
    long = "Stop" + " now" * 130 + "."
    bad = f"stop:\n  - Stop.\n  - {long}\n  - [a list]\n"
    write(tmp_path, "routines/calm.yaml", CALM + bad)
    assert problems(Path("homeflow.yaml")) == [
        "routines/calm.yaml:10:5: stop[1]: too long (525 characters); at most 500",
        "routines/calm.yaml:11:5: stop[2]: expected text, got a list",
    ]
    write(tmp_path, "routines/calm.yaml", CALM + "stop: []\n")
    assert problems(Path("homeflow.yaml")) == ["routines/calm.yaml:8:7: stop: needs at least one sentence"]
    write(tmp_path, "routines/calm.yaml", CALM + "stop: {at: once}\n")
    assert problems(Path("homeflow.yaml")) == [
        "routines/calm.yaml:8:7: stop: expected a list of sentences or a text, got a mapping"
    ]
    write(tmp_path, "routines/calm.yaml", CALM + "stop:\n" + "  - Stop.\n" * 21)
    assert problems(Path("homeflow.yaml")) == ["routines/calm.yaml:9:3: stop: at most 20 sentences, got 21"]


async def test_each_person_rests_after_their_own_it_hurt_and_hears_their_own_button(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    async with people(tmp_path, broker, prefix, speech_cache) as home:
        mqtt = home.watch.client
        # Ben starts from the page (no button): the question names his own button, not Anna's.
        first = len(home.watch.messages)
        await mqtt.publish(home.topic("set"), "start:ben", qos=1)
        await home.watch.wait_for(home.topic("state"), lambda m: m.json["state"] == "asking", since=first)
        question = home.watch.payloads(home.topic("say"), since=first)[-1]["text"]
        assert question == f"{QUESTION} {HOLD_HINT.replace('massage', 'bedroom')}"
        await home.press("bedroom", "hold")  # it hurt
        await home.watch.wait_for(home.topic("state"), lambda m: m.json["state"] == "idle", since=first + 1)
        home.clock.shift(DUPLICATE_WINDOW_S)
        assert home.stats("ben")["rest_until"] is not None and home.stats("anna")["rest_until"] is None

        # Ben rests; Anna's run is hers to start, at her own level, not gently.
        mark = len(home.watch.messages)
        await home.press("bedroom")
        refused = await home.watch.wait_for(home.topic("event"), since=mark)
        assert (refused.json["event"], refused.json["profile"], refused.json["reason"]) == (
            "refused",
            "ben",
            REST,
        )
        home.clock.shift(DUPLICATE_WINDOW_S)
        asking = await home.run(lambda: home.press("hall"), lambda: home.press("hall"))
        assert asking["profile"] == "anna"
        assert GENTLE not in [p["text"] for p in home.watch.payloads(home.topic("say"), since=mark)]


def test_a_cancelled_run_answered_it_hurt_counts_in_each_store(journal_at: Path | Database) -> None:
    """Progression replays it (at start-up too); a cancelled run nobody answered does not count; the
    rest counts from its end."""
    with open_journal(journal_at) as journal:
        for status, answer in (
            (RunStatus.COMPLETED, Feedback.GOOD),
            (RunStatus.CANCELLED, None),
            (RunStatus.CANCELLED, Feedback.HURT),
            (RunStatus.INTERRUPTED, None),
        ):
            run = journal.start_run("back-massage", "mqtt", 5, 10.0, {})
            journal.finish_run(run, status)
            journal.set_feedback(run, answer)
        assert journal.feedback_history("back-massage") == [Feedback.GOOD, Feedback.HURT]
        # The rest counts from the end of the run answered "it hurt".
        hurt = next(r for r in journal.runs("back-massage") if r.feedback is Feedback.HURT)
        assert hurt.ended_at is not None and journal.last_hurt("back-massage") == hurt.ended_at
        assert journal.last_hurt("another") is None


def test_the_it_hurt_path_speaks_german_in_the_german_routine() -> None:
    german = load_settings(ROUTINES.parent / "homeflow.yaml").routines["back-massage-de"]
    table = phrases("de")
    button = Zigbee2MqttButton("Massage", "Massage Button")
    assert cancel_question(button, table) == (
        "Hat es wehgetan? Mit dem Knopf Massage: halte ihn gedrückt, wenn es wehgetan hat."
    )
    assert cancel_question(None, table) == (
        "Hat es wehgetan? Wenn ja, wähle „Es hat wehgetan“ im Dashboard oder in Home Assistant."
    )
    assert german.stop == (german.safety[1], german.safety[3])  # its `stop:` repeats them
    assert stop_rules(german) == f"{german.safety[1]} {german.safety[3]}"
    assert stop_rules(german).startswith("Hör sofort auf")
    assert "such sofort ärztliche Hilfe" in stop_rules(german)
    assert rest_refusal(german, 23.6 * 3600) == (
        "Letztes Mal hat es wehgetan. Gib deinem Rücken noch 24 Stunden Ruhe, bevor Rückenmassage mit dem"
        " Ball wieder dran ist."
    )
    assert rest_refusal(german, 50 * 60).endswith(
        "noch 50 Minuten Ruhe, bevor Rückenmassage mit dem Ball wieder dran ist."
    )


async def test_it_hurt_from_history_names_its_run(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    with open_journal(tmp_path / "journal.db") as journal:
        cancelled = journal.start_run("back-massage", "mqtt", 5, 10.0, {})
        journal.finish_run(cancelled, RunStatus.CANCELLED)
    later = an_old_completed_run(tmp_path)  # newer than the cancelled run: the default target
    port = free_port()
    async with home(tmp_path, broker, prefix, speech_cache, http_port=port):
        path = "/api/routines/back-massage"
        good = await api(port, "POST", f"{path}/good", {"run": cancelled})
        assert good["result"] == f"late feedback: run {cancelled} of back-massage cannot take good"
        hurt = await api(port, "POST", f"{path}/hurt", {"run": cancelled})
        assert hurt["result"] == f"late feedback hurt for run {cancelled}: next run 3 repetitions"
        again = await api(port, "POST", f"{path}/hurt", {"run": cancelled})
        assert again["result"] == f"late feedback: run {cancelled} was answered already (hurt)"
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}{path}/hurt", json={"run": "1"}) as bad,
        ):
            assert bad.status == 400
    newer, older = runs(tmp_path)
    assert (older.id, older.feedback, newer.id, newer.feedback) == (cancelled, Feedback.HURT, later, None)
