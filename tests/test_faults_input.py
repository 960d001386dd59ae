"""Bad input from the network and a slow Home Assistant: the service goes on, and says what it dropped."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from homeflow.commands import Command
from homeflow.journal import RunStatus, open_journal
from homeflow.mqtt import MAX_PAYLOAD_BYTES
from homeflow.service import serve
from homeflow.settings import load

from .fake_home_assistant import TOKEN, FakeHomeAssistant
from .faults import WAIT_S
from .harness import SHORT_ROUTINE, collecting, handled_so_far, serving, write_settings
from .mosquitto import Broker

EXAMPLES = 1000
ACTION = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")  # what a Zigbee2MQTT action looks like
LOOK_TYPES: dict[str, Any] = {"state": str, "brightness": int, "color_temp": (int, float), "color_mode": str}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
wrong_types = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=3), st.text()
)
payloads = st.one_of(
    st.text(max_size=200).map(str.encode),  # mostly not JSON at all
    st.binary(min_size=1, max_size=200),  # mostly not UTF-8
    json_values.map(lambda v: json.dumps(v).encode()),  # JSON, often of the wrong shape
    st.fixed_dictionaries({"action": wrong_types}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"state": wrong_types, "brightness": wrong_types, "color_temp": wrong_types}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.integers(10, 20_000).map(lambda n: b"[" * n + b"]" * n),  # nested past the recursion limit
    st.tuples(st.binary(min_size=1, max_size=8), st.integers(MAX_PAYLOAD_BYTES + 1, 150_000)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
    ),
    st.integers(MAX_PAYLOAD_BYTES, 150_000).map(  # a real press, but far too big for one
        lambda n: json.dumps({"action": "single", "padding": "x" * n}).encode()
    ),
)


def json_of(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def malformed(kind: str, payload: bytes) -> bool:
    """Whether homeflow must drop `payload` on a topic of `kind` with a warning (the contract)."""
    if not payload:
        return False  # how MQTT deletes a retained message: nothing to say about it
    if len(payload) > MAX_PAYLOAD_BYTES:
        return True
    text = payload.decode("utf-8", errors="backslashreplace")
    if kind == "unknown_routine":
        return True
    if kind == "set":
        return text.strip().lower() not in {c.value for c in Command}
    if kind == "ha_status":
        return text.strip() not in ("online", "offline")
    if kind == "action":
        return bool(text.strip()) and not ACTION.fullmatch(text.strip())
    data = json_of(payload)
    if not isinstance(data, dict):
        return True
    if kind == "button":
        action = data.get("action")
        return action not in (None, "") and not (isinstance(action, str) and ACTION.fullmatch(action))
    return any(  # a light's state
        data.get(key) is not None and (isinstance(data[key], bool) or not isinstance(data[key], kinds))
        for key, kinds in LOOK_TYPES.items()
    )


def topics(prefix: str) -> dict[str, str]:
    """Every topic homeflow subscribes to with these settings (but its own discovery configs, whose
    payload it never reads), by kind; and a routine it does not know."""
    base, z2m = f"{prefix}/hf", f"{prefix}/z2m"
    return {
        f"{base}/faulty/set": "set",
        f"{base}/unknown/set": "unknown_routine",
        f"{z2m}/Button": "button",
        f"{z2m}/Button/action": "action",
        f"{z2m}/Lamp": "light",
        f"{prefix}/ha/status": "ha_status",
    }


def bad_messages(prefix: str) -> list[tuple[str, bytes]]:
    """EXAMPLES malformed messages, drawn by Hypothesis (derandomized: the same ones on every run)."""
    by_topic = topics(prefix)
    drawn: list[tuple[str, bytes]] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.tuples(st.sampled_from(sorted(by_topic)), payloads).filter(
            lambda m: malformed(by_topic[m[0]], m[1])
        )
    )
    def draw(message: tuple[str, bytes]) -> None:
        drawn.append(message)

    draw()
    return drawn


async def test_a_thousand_malformed_messages_are_each_dropped_with_one_warning(
    tmp_path: Path, broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = (
        "lights: {lamp: {zigbee2mqtt: Lamp}}\n"
        "buttons: {massage: {zigbee2mqtt: Button}}\n"
        "automations: [{routine: faulty, when: [{button: massage}], lights: [lamp]}]\n"
    )
    config = write_settings(tmp_path, broker, prefix, body, {"faulty": SHORT_ROUTINE})
    messages = bad_messages(prefix)
    assert len(messages) == EXAMPLES
    assert set(topics(prefix)) == {topic for topic, _ in messages}

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith("homeflow") and r.levelno >= logging.WARNING]

    caplog.set_level(logging.INFO, logger="homeflow")
    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-fuzz", f"{base}/status") as client,
        serving(config, client, base),
    ):
        caplog.clear()
        for topic, payload in messages:
            await client.client.publish(topic, payload, qos=1)
        await handled_so_far(broker, base, within=WAIT_S)

    records = warnings()[:-1]  # the last one is about the marker
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "started by" in r.getMessage()]
    for index, ((topic, payload), record) in enumerate(zip(messages, records, strict=False)):
        line = record.getMessage()
        assert topic in line, f"message {index} on {topic} {payload[:80]!r}: logged {line!r}"
        assert "\n" not in line and record.exc_info is None, line
    assert len(records) == len(messages), "some messages were logged twice, or not at all"
    with open_journal(tmp_path / "journal.db") as journal:
        assert journal.runs() == []


async def test_a_stalled_home_assistant_does_not_hold_up_the_routine(
    tmp_path: Path, broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Home Assistant takes every request and never answers: each call costs its 3 s timeout, and the
    cues (at time scale 1) must still come on time."""
    fake = FakeHomeAssistant({"light.desk": {"state": "on", "attributes": {"brightness": 180}}})
    async with fake.running() as ha:
        ha.stall = True
        body = (
            "lights: {desk: {home_assistant: light.desk}}\nautomations: [{routine: short, lights: [desk]}]\n"
        )
        config = write_settings(
            tmp_path,
            broker,
            prefix,
            body,
            {"short": SHORT_ROUTINE},
            home_assistant={"url": ha.url, "token": TOKEN},
        )
        base = f"{prefix}/hf"
        caplog.set_level(logging.INFO, logger="homeflow")
        async with collecting(broker, f"{prefix}-w", f"{base}/#") as watch:
            stop = asyncio.Event()
            service = asyncio.create_task(serve(load(config), stop, time_scale=1))
            try:
                await watch.wait_for(f"{base}/status", lambda m: m.text == "online")
                await watch.client.publish(f"{base}/short/set", "start", qos=1)
                async with asyncio.timeout(WAIT_S * 2):
                    await watch.wait_for(f"{base}/short/event", lambda m: m.json["event"] == "completed")
            finally:
                stop.set()
                await asyncio.wait_for(service, WAIT_S)
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        cues = journal.cues(run.id)
    assert run.status is RunStatus.COMPLETED
    late = {c["index"]: round(c["late_s"], 2) for c in cues}
    assert max(late.values()) < 1.0, f"cues late by (s): {late}"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("homeflow.devices")]
    assert any("did not answer" in line for line in lines), lines
