"""`homeflow check --probe` against a real broker: who answers and who does not."""

from __future__ import annotations

from pathlib import Path

from homeflow.probe import probe
from homeflow.settings import load

from .harness import write_settings
from .mosquitto import Broker
from .z2m import SimulatedLight


async def test_probe_tells_which_devices_answer(tmp_path: Path, broker: Broker, prefix: str) -> None:
    config = write_settings(
        tmp_path,
        broker,
        prefix,
        "lights:\n  lamp: {zigbee2mqtt: Lamp}\n  ghost: {zigbee2mqtt: Ghost}\n  room: {virtual: {}}\n"
        "speakers:\n  here: {local: {player: 'true'}}\n  gone: {local: {player: no-such-player}}\n",
    )
    lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", {"state": "ON", "brightness": 10})
    async with lamp.running(broker):
        answers = {(a.kind, a.name): a for a in await probe(load(config))}
    assert answers[("light", "lamp")].ok
    assert not answers[("light", "ghost")].ok
    assert "no state within 3 s of asking" in str(answers[("light", "ghost")])
    assert answers[("light", "room")].ok
    assert answers[("speaker", "here")].ok
    assert str(answers[("speaker", "gone")]) == "speaker gone: no answer (player 'no-such-player' not found)"
