"""NaN and Infinity are not JSON: a lamp that reports them keeps its run and gets a restore it can read."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from homeflow.journal import Database, RunStatus, open_journal

from .harness import collecting, handled_so_far
from .home import BEFORE, home
from .mosquitto import Broker

NAN_STATE = b'{"state":"ON","brightness":200,"color_temp":NaN}'


def strict(text: str) -> Any:
    """`text` as JSON as Zigbee2MQTT reads it: NaN and Infinity are errors."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in {text}")

    return json.loads(text, parse_constant=refuse)


async def test_a_retained_nan_lamp_state_keeps_the_run_and_its_restore(  # noqa: PLR0917
    tmp_path: Path,
    broker: Broker,
    prefix: str,
    speech_cache: Path,
    journal_at: Path | Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="homeflow")
    database = journal_at if isinstance(journal_at, Database) else None
    lamp = f"{prefix}/z2m/Living Room Lamp"
    async with (
        collecting(broker, f"{prefix}-sets", f"{lamp}/set") as sets,
        home(tmp_path, broker, prefix, speech_cache, journal=database) as h,
    ):
        await h.client.publish(lamp, NAN_STATE, qos=1, retain=True)  # any client of the broker can
        await handled_so_far(broker, h.base)
        await h.press()
        await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "completed", within=30)
        await h.watch.wait_for(
            h.topic("state"), lambda m: m.json["state"] == "idle" and bool(h.light.commands)
        )
        await sets.wait_until(lambda: len(sets.on(f"{lamp}/set")) == len(h.light.commands))

    commands = [strict(m.text) for m in sets.on(f"{lamp}/set")]
    assert commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    with open_journal(journal_at) as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.COMPLETED
        assert run.light_snapshot == {"lamp": BEFORE}

    refused = [r.getMessage() for r in caplog.records if lamp in r.getMessage() and "NaN" in r.getMessage()]
    assert len(refused) == 1, refused
    assert "NaN is not a JSON number" in refused[0]
