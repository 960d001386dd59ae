"""Faults on the broker's side: Mosquitto killed and restarted mid-run, and retained or queued messages
that reach homeflow when it connects again."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from homeflow.service import serve
from homeflow.settings import load

from .faults import FAULTY_ROUTINE, WAIT_S, JournalView, ReconnectingLight, wait_until
from .harness import collecting, handled_so_far, stopped, write_settings
from .home import BEFORE
from .mosquitto import Broker, Mosquitto

TIME_SCALE = 10
RESTORED = {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 1}
DIM, STEP_TWO, STEP_THREE = 89, 152, 51  # 35 %, 60 %, 20 % of 254


async def publish(broker: Broker, topic: str, payload: str, *, retain: bool = False) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


async def retained_payload(broker: Broker, topic: str) -> str:
    """The message the broker keeps retained on `topic`, waiting until there is one."""
    async with collecting(broker, f"reader-{topic.replace('/', '-')}", topic) as reader:
        return (await reader.wait_for(topic, within=WAIT_S)).text


@asynccontextmanager
async def service(config: Path, broker: Broker, base: str) -> AsyncIterator[asyncio.Task[None]]:
    """homeflow in-process until the block ends; entered once it is online."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(load(config), stop, time_scale=TIME_SCALE))
    try:
        assert await retained_payload(broker, f"{base}/status") == "online"
        yield task
    finally:
        stop.set()
        await stopped(task, within=WAIT_S)


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_a_run_survives_three_broker_restarts_and_ends_with_the_lights_restored(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    mq = mosquitto()
    base = f"{prefix}/hf"
    body = "lights: {lamp: {zigbee2mqtt: Lamp}}\nautomations: [{routine: faulty, lights: [lamp]}]\n"
    config = write_settings(tmp_path, mq.broker, prefix, body, {"faulty": FAULTY_ROUTINE})
    journal = JournalView(tmp_path / "journal.db")
    light = ReconnectingLight(f"{prefix}/z2m", "Lamp", BEFORE)
    brightness = lambda: [c.get("brightness") for c in light.commands]  # noqa: E731
    caplog.set_level(logging.INFO, logger="homeflow")
    async with light.running(mq.broker), service(config, mq.broker, base):
        await publish(mq.broker, f"{base}/faulty/set", "start")
        await wait_until(lambda: DIM in brightness(), "the lamp dimmed")

        # Down across each of the run's light cues and across its end: every light command is given
        # while homeflow is offline, and the run ends (restoring the lamp) with no broker at all.
        for step, brightness_after in ((0, STEP_TWO), (1, STEP_THREE), (2, None)):
            await journal.wait_for("SELECT 1 FROM cues WHERE kind = 'say' AND step = ?", step)
            mq.kill()
            if brightness_after is None:
                await journal.wait_for("SELECT 1 FROM runs WHERE status != 'running'")
                mq.start()
                await wait_until(lambda: light.commands[-1] == RESTORED, "the lamp restored")
            else:
                await journal.wait_for("SELECT 1 FROM cues WHERE kind = 'light' AND step = ?", step + 1)
                mq.start()
                await wait_until(lambda b=brightness_after: b in brightness(), f"{brightness_after} re-sent")
        # The run is over once the routine is idle again; the broker then holds what the house sees.
        async with collecting(mq.broker, f"{prefix}-idle", f"{base}/faulty/state") as watch:
            await watch.wait_for(f"{base}/faulty/state", lambda m: m.json["state"] == "idle", within=WAIT_S)
        state = json.loads(await retained_payload(mq.broker, f"{base}/faulty/state"))
        stats = json.loads(await retained_payload(mq.broker, f"{base}/faulty/stats"))

    # Every light state arrived, in order (a re-sent command may arrive twice, never out of order).
    distinct = [b for i, b in enumerate(brightness()) if i == 0 or brightness()[i - 1] != b]
    assert distinct == [DIM, STEP_TWO, STEP_THREE, 203]
    assert {k: light.state[k] for k in BEFORE} == BEFORE
    assert light.connections == 4
    assert len(messages(caplog, "reconnected to MQTT broker")) == 3

    # The timeline held: each cue carried out once, in order, none late by more than a wall second.
    [(run_id, status)] = journal.query("SELECT id, status FROM runs")
    assert status == "completed"
    cues = journal.query("SELECT idx, late_s FROM cues WHERE run_id = ? ORDER BY idx", run_id)
    assert [idx for idx, _ in cues] == list(range(len(cues)))
    assert [kind for (kind,) in journal.query("SELECT kind FROM cues ORDER BY idx")][-1] == "end"
    assert max(late for _, late in cues) < TIME_SCALE * 1.0, cues

    # Completed exactly once, and what the house sees after the last reconnect says so.
    assert messages(caplog, f"faulty: run {run_id} ") == [f"faulty: run {run_id} completed"]
    assert state["state"] == "idle"
    assert stats["last_completed"] is not None and stats["completed_today"] == 1


async def test_retained_and_queued_presses_never_start_a_run(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    mq = mosquitto()
    base, button = f"{prefix}/hf", f"{prefix}/z2m/Button"
    body = (
        "buttons: {massage: {zigbee2mqtt: Button}}\n"
        "automations: [{routine: faulty, when: [{button: massage}]}]\n"
    )
    config = write_settings(tmp_path, mq.broker, prefix, body, {"faulty": FAULTY_ROUTINE})
    journal = JournalView(tmp_path / "journal.db")
    press = json.dumps({"action": "single", "battery": 97})

    async def stale_presses() -> None:
        await publish(mq.broker, button, press, retain=True)
        await publish(mq.broker, f"{button}/action", "single", retain=True)
        await publish(mq.broker, f"{base}/faulty/set", "start", retain=True)

    caplog.set_level(logging.INFO, logger="homeflow")
    await stale_presses()
    async with service(config, mq.broker, base):
        await handled_so_far(mq.broker, base, within=WAIT_S)
        mq.kill()
        # Restart only once homeflow has failed twice, so its next try is 2 s away: the presses below
        # all happen while it is offline, with the broker up.
        await wait_until(lambda: messages(caplog, "retrying in 2 s"), "a second failed reconnect")
        mq.start()
        await stale_presses()
        for _ in range(3):  # QoS 1 presses while homeflow is away: a clean session must not queue them
            await publish(mq.broker, button, press)
        await wait_until(lambda: messages(caplog, "reconnected to MQTT broker"), "the reconnect")
        await handled_so_far(mq.broker, base, within=WAIT_S)
        assert journal.query("SELECT id FROM runs") == []
        assert not messages(caplog, "started by")

        await publish(mq.broker, button, press)  # a live press still starts the routine
        await journal.wait_for("SELECT id FROM runs")
        await publish(mq.broker, f"{base}/faulty/set", "cancel")
        await journal.wait_for("SELECT id FROM runs WHERE status = 'cancelled'")
    assert messages(caplog, "started by") == ["faulty: started by button:massage"]
