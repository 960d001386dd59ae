"""Home Assistant lights over its REST API, against a fake Home Assistant on loopback."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from homeflow.devices.lights.home_assistant import HomeAssistantLight
from homeflow.errors import HomeAssistantError
from homeflow.homeassistant.api import HomeAssistantApi
from homeflow.journal import RunStatus, open_journal
from homeflow.routine.model import Ambience

from .fake_home_assistant import TOKEN, Call, FakeHomeAssistant
from .harness import SHORT_ROUTINE, collecting, serving, write_settings
from .mosquitto import Broker, free_port
from .z2m import SimulatedLight

DESK = {
    "state": "on",
    "attributes": {
        "brightness": 180,
        "color_mode": "color_temp",
        "color_temp_kelvin": 3500,
        "hs_color": [27.0, 40.0],
        "supported_color_modes": ["color_temp", "hs"],
        "friendly_name": "Desk lamp",
    },
}
SHELF = {
    "state": "on",
    "attributes": {
        "brightness": 77,
        "color_mode": "hs",
        "hs_color": [210.0, 60.0],
        "color_temp_kelvin": None,
    },
}
HALL = {"state": "off", "attributes": {"brightness": None, "color_mode": None, "friendly_name": "Hall"}}
Z2M_BEFORE = {"state": "ON", "brightness": 203, "color_temp": 250, "color_mode": "color_temp"}


def rest_api(url: str) -> dict[str, str]:
    """The home_assistant settings that reach its REST API at `url`."""
    return {"url": url, "token": TOKEN}


async def run_short_routine(config: Path, broker: Broker, prefix: str) -> list[str]:
    """Start the short routine over MQTT and wait until it ends; the events it published."""
    base = f"{prefix}/hf"
    async with collecting(broker, f"{prefix}-watch", f"{base}/#") as watch, serving(config, watch, base):
        await watch.client.publish(f"{base}/short/set", "start", qos=1)
        end = await watch.wait_for(
            f"{base}/short/event", lambda m: m.json["event"] in ("completed", "cancelled")
        )
        # The run is over once the routine is idle again (the speakers given back).
        await watch.wait_for(
            f"{base}/short/state", lambda m: m.json["state"] == "idle", since=watch.messages.index(end)
        )
    return [m.json["event"] for m in watch.on(f"{base}/short/event")]


async def test_a_run_dims_with_a_transition_and_restores_brightness_and_colour_temperature(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    async with FakeHomeAssistant({"light.desk_lamp": _copy(DESK)}).running() as ha:
        body = (
            "lights: {desk: {home_assistant: light.desk_lamp}}\n"
            "automations: [{routine: short, lights: [desk]}]\n"
        )
        config = write_settings(
            tmp_path, broker, prefix, body, {"short": SHORT_ROUTINE}, home_assistant=rest_api(ha.url)
        )
        assert await run_short_routine(config, broker, prefix) == ["started", "completed"]

    assert set(ha.tokens) == {f"Bearer {TOKEN}"}
    assert ha.reads == ["light.desk_lamp"]
    assert ha.calls == [
        Call(
            "light.turn_on",
            {
                "entity_id": "light.desk_lamp",
                "brightness_pct": 35,
                "transition": 4,
                "color_temp_kelvin": 2700,
            },
        ),
        Call(
            "light.turn_on",
            {
                "entity_id": "light.desk_lamp",
                "brightness_pct": 50,
                "transition": 2,
            },
        ),
        Call(
            "light.turn_on",
            {"entity_id": "light.desk_lamp", "transition": 4, "brightness": 180, "color_temp_kelvin": 3500},
        ),
    ]
    after = ha.state("light.desk_lamp")["attributes"]
    assert (after["brightness"], after["color_mode"], after["color_temp_kelvin"]) == (180, "color_temp", 3500)
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        assert run.status is RunStatus.COMPLETED
        assert run.light_snapshot == {
            "desk": {"state": "on", "brightness": 180, "color_mode": "color_temp", "color_temp_kelvin": 3500}
        }


async def test_zigbee2mqtt_and_home_assistant_lights_in_one_run(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", Z2M_BEFORE)
    fake = FakeHomeAssistant({"light.shelf": _copy(SHELF), "light.hall": _copy(HALL)})
    async with fake.running() as ha, lamp.running(broker):
        body = (
            "lights:\n"
            "  lamp: {zigbee2mqtt: Lamp}\n"
            "  shelf: {home_assistant: light.shelf}\n"
            "  hall: {home_assistant: light.hall}\n"
            "automations: [{routine: short, lights: [lamp, shelf, hall]}]\n"
        )
        config = write_settings(
            tmp_path, broker, prefix, body, {"short": SHORT_ROUTINE}, home_assistant=rest_api(ha.url)
        )
        assert await run_short_routine(config, broker, prefix) == ["started", "completed"]

    assert lamp.commands[0] == {"state": "ON", "brightness": 89, "transition": 4, "color_temp": 370}
    assert lamp.commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    dims = [c for c in ha.calls if c.data.get("brightness_pct") == 35]
    assert sorted(c.data["entity_id"] for c in dims) == ["light.hall", "light.shelf"]
    restores = {c.data["entity_id"]: c for c in ha.calls[-2:]}
    assert restores["light.shelf"] == Call(
        "light.turn_on",
        {"entity_id": "light.shelf", "transition": 4, "brightness": 77, "hs_color": [210.0, 60.0]},
    )
    assert restores["light.hall"] == Call("light.turn_off", {"entity_id": "light.hall", "transition": 4})
    assert ha.state("light.shelf")["attributes"]["hs_color"] == [210.0, 60.0]
    assert ha.state("light.shelf")["attributes"]["color_mode"] == "hs"
    assert ha.state("light.hall")["state"] == "off"


async def test_an_unreachable_home_assistant_does_not_stop_the_run(
    tmp_path: Path, broker: Broker, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    lamp = SimulatedLight(f"{prefix}/z2m", "Lamp", Z2M_BEFORE)
    async with lamp.running(broker):
        body = (
            "lights: {lamp: {zigbee2mqtt: Lamp}, desk: {home_assistant: light.desk_lamp}}\n"
            "automations: [{routine: short, lights: [desk, lamp]}]\n"
        )
        nowhere = rest_api(f"http://127.0.0.1:{free_port()}")
        config = write_settings(
            tmp_path, broker, prefix, body, {"short": SHORT_ROUTINE}, home_assistant=nowhere
        )
        with caplog.at_level(logging.WARNING):
            assert await run_short_routine(config, broker, prefix) == ["started", "completed"]
    assert lamp.commands[-1] == {"state": "ON", "brightness": 203, "color_temp": 250, "transition": 4}
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("homeflow.devices")]
    assert warnings[0].startswith("light desk: cannot reach Home Assistant at http://127.0.0.1:")
    assert warnings[0].endswith("it will not be restored")
    assert all("\n" not in w and "Traceback" not in w for w in warnings)


async def test_api_errors_are_one_clear_line() -> None:
    async with FakeHomeAssistant({"light.desk_lamp": _copy(DESK)}).running() as ha:
        with pytest.raises(HomeAssistantError, match=r"refused the token \(401\); create a long-lived"):
            await HomeAssistantApi(ha.url, "wrong").state("light.desk_lamp")
        with pytest.raises(HomeAssistantError, match=r"has no light\.nowhere \(404\)$"):
            await HomeAssistantApi(ha.url, TOKEN).state("light.nowhere")
        ha.stall = True
        with pytest.raises(HomeAssistantError, match=r"did not answer light\.desk_lamp within 0\.2 s$"):
            await HomeAssistantApi(ha.url, TOKEN, timeout_s=0.2).state("light.desk_lamp")
    with pytest.raises(
        HomeAssistantError, match=r"^cannot reach Home Assistant at http://127\.0\.0\.1:\d+: "
    ):
        await HomeAssistantApi(ha.url, TOKEN).call("light", "turn_on", {"entity_id": "light.desk_lamp"})


async def test_a_light_that_was_unavailable_is_left_alone() -> None:
    fake = FakeHomeAssistant({"light.desk_lamp": {"state": "unavailable", "attributes": {}}})
    async with fake.running() as ha:
        light = HomeAssistantLight("desk", "light.desk_lamp", HomeAssistantApi(ha.url, TOKEN))
        snapshot = await light.snapshot()
        await light.apply(Ambience(20, 1.0))
        await light.restore(snapshot, 1.0)
    assert snapshot == {}
    assert ha.calls == [
        Call("light.turn_on", {"entity_id": "light.desk_lamp", "brightness_pct": 20, "transition": 1})
    ]


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return {"state": state["state"], "attributes": dict(state["attributes"])}


async def test_a_light_in_white_mode_comes_back_white() -> None:
    """light.turn_on's `white` puts an RGBW lamp back in white mode at its brightness; brightness
    alone would leave it in the routine's warm colour."""
    white = {"state": "on", "attributes": {"brightness": 140, "color_mode": "white", "hs_color": None}}
    fake = FakeHomeAssistant({"light.strip": _copy(white)})
    async with fake.running() as ha:
        light = HomeAssistantLight("strip", "light.strip", HomeAssistantApi(ha.url, TOKEN))
        snapshot = await light.snapshot()
        await light.apply(Ambience(20, 1.0, color_temp_k=2700))
        assert ha.lights["light.strip"]["attributes"]["color_mode"] == "color_temp"
        await light.restore(snapshot, 2.0)
    assert ha.calls[-1] == Call(
        "light.turn_on", {"entity_id": "light.strip", "transition": 2.0, "white": 140}
    )
    restored = ha.lights["light.strip"]["attributes"]
    assert (restored["color_mode"], restored["brightness"], restored["color_temp_kelvin"]) == (
        "white",
        140,
        None,
    )


async def test_a_state_with_nan_is_not_json_and_not_given_back(caplog: pytest.LogCaptureFixture) -> None:
    """Home Assistant's own JSON never holds NaN; an answer that does is no look to give back."""
    desk = _copy(DESK)
    desk["attributes"]["color_temp_kelvin"] = float("nan")  # the fake answers with Python's json: NaN
    async with FakeHomeAssistant({"light.desk_lamp": desk}).running() as ha:
        light = HomeAssistantLight("desk", "light.desk_lamp", HomeAssistantApi(ha.url, TOKEN))
        with caplog.at_level(logging.WARNING):
            snapshot = await light.snapshot()
        await light.restore(snapshot, 1.0)
    assert snapshot == {}
    assert ha.calls == []
    [warned] = [r.getMessage() for r in caplog.records if r.name.startswith("homeflow.devices")]
    assert warned.startswith(
        f"light desk: Home Assistant at {ha.url}: light.desk_lamp did not answer JSON: NaN"
    )
