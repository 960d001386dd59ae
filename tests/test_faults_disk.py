"""A disk that fills mid-run costs the journal's record of those moments, never the service, the lamp or
the next run; homeflow says it is degraded and recovers by itself when space returns."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeflow.journal import RunStatus, open_journal

from .harness import collecting, serving, write_settings
from .mosquitto import Broker
from .z2m import SimulatedLight

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")

ROUTINE = """\
name: Short
ambience: {brightness: 30, transition: 1}
steps:
  - title: Begin
    do:
      - say: Settle in.
      - wait: {seconds: 20}
  - title: Close
    do:
      - light: {brightness: 50, transition: 1}
      - say: Done.
"""
BEFORE = {"state": "ON", "brightness": 200, "color_temp": 250, "color_mode": "color_temp"}


@contextlib.contextmanager
def small_disk(folder: Path, size_kb: int = 512) -> Iterator[Path]:
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the disk `folder` is on, to the last block."""
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 4096)
    return filler


async def test_a_full_disk_mid_run_costs_the_record_not_the_run_and_space_returning_heals_it(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        body = "lights: {lamp: {zigbee2mqtt: Lamp}}\nautomations: [{routine: short, lights: [lamp]}]\n"
        config = write_settings(disk, broker, prefix, body, {"short": ROUTINE}, cache=speech_cache)
        lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", BEFORE)
        base = f"{prefix}/hf"
        state, event = f"{base}/short/state", f"{base}/short/event"
        async with (
            lamp.running(broker),
            collecting(broker, f"{prefix}-watch", f"{base}/#") as watch,
            serving(config, watch, base, time_scale=10),
        ):
            await watch.client.publish(f"{base}/short/set", "start", qos=1)
            await watch.wait_for(state, lambda m: m.json.get("step_index") == 0)
            filler = fill(disk)
            done = await watch.wait_for(event, lambda m: m.json["event"] != "started")
            assert done.json["event"] == "completed"
            await watch.wait_for(state, lambda m: "degraded" in m.json)
            await watch.wait_for(state, lambda m: m.json["state"] == "idle", since=watch.messages.index(done))
            assert lamp.commands[-1] == {"state": "ON", "brightness": 200, "color_temp": 250, "transition": 1}

            filler.unlink()  # space returns
            mark = len(watch.messages)
            await watch.client.publish(f"{base}/short/set", "start", qos=1)
            again = await watch.wait_for(event, lambda m: m.json["event"] != "started", since=mark)
            assert again.json["event"] == "completed"
            healed = await watch.wait_for(state, lambda m: m.json["state"] == "idle", since=mark)
            assert "degraded" not in healed.json

        with open_journal(disk / "journal.db") as journal:
            runs = journal.runs()
    # Both completions are in the journal: the first one's end was written once space returned.
    assert [run.status for run in runs] == [RunStatus.COMPLETED, RunStatus.COMPLETED]
