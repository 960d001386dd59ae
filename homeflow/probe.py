"""`homeflow check --probe`: ask every light and speaker whether it answers, before a run needs it."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiomqtt

from homeflow import jsontext
from homeflow.devices.speakers.home_assistant import legacy_engine
from homeflow.devices.speakers.local import LocalSpeakerDevice
from homeflow.errors import HomeflowError, SpeakerError
from homeflow.homeassistant.api import HomeAssistantApi
from homeflow.mqtt import client_for
from homeflow.settings.model import (
    CastSpeaker,
    HomeAssistantLight,
    HomeAssistantSpeaker,
    LocalSpeaker,
    Settings,
    SonosSpeaker,
    VirtualLight,
    Zigbee2MqttLight,
)
from homeflow.speech import SpeechCache, engine_problem

PROBE_TIMEOUT_S = 3.0
SONOS_PORT = 1400


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str  # "light" or "speaker"
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {'answers' if self.ok else 'no answer'} ({self.detail})"


async def probe(settings: Settings) -> list[Answer]:
    """One answer per configured light and speaker, all asked at once, each within a few seconds."""
    lights = [
        _light(settings, name, spec)
        for name, spec in settings.lights.items()
        if not isinstance(spec, Zigbee2MqttLight)
    ]
    speakers = [_speaker(settings, name, spec) for name, spec in settings.speakers.items()]
    z2m = {name: spec for name, spec in settings.lights.items() if isinstance(spec, Zigbee2MqttLight)}
    over_mqtt, direct = await asyncio.gather(_zigbee2mqtt_lights(settings, z2m), _each([*lights, *speakers]))
    return sorted([*over_mqtt, *direct], key=lambda a: (a.kind, a.name))


async def _each(jobs: list[Coroutine[Any, Any, Answer]]) -> list[Answer]:
    return list(await asyncio.gather(*jobs))


async def _zigbee2mqtt_lights(settings: Settings, lights: dict[str, Zigbee2MqttLight]) -> list[Answer]:
    """Ask Zigbee2MQTT to read each light (`/get`) and wait for the states it publishes."""
    if not lights:
        return []
    base = settings.zigbee2mqtt.base_topic
    topics = {f"{base}/{spec.friendly_name}": name for name, spec in lights.items()}
    answered: set[str] = set()
    m = settings.mqtt
    try:
        # Its own client id: taking the service's would disconnect a running homeflow.
        async with client_for(m, f"{m.client_id}-probe") as client:
            for topic in topics:
                await client.subscribe(topic, qos=1)
            for topic in topics:
                await client.publish(f"{topic}/get", jsontext.dumps({"state": ""}), qos=1)
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    async for message in client.messages:
                        # A retained state is what the light was once; only a fresh one is an answer.
                        if not message.retain and message.topic.value in topics:
                            answered.add(topics[message.topic.value])
                            if len(answered) == len(topics):
                                break
            except TimeoutError:
                pass
    except aiomqtt.MqttError as exc:
        why = f"MQTT broker {m.host}:{m.port} unreachable: {exc}"
        return [Answer("light", name, False, why) for name in lights]
    return [
        Answer(
            "light",
            name,
            name in answered,
            f"zigbee2mqtt {spec.friendly_name!r}"
            + ("" if name in answered else f": no state within {PROBE_TIMEOUT_S:g} s of asking"),
        )
        for name, spec in lights.items()
    ]


async def _light(settings: Settings, name: str, spec: object) -> Answer:
    if isinstance(spec, VirtualLight):
        return Answer("light", name, True, "virtual, in homeflow itself")
    assert isinstance(spec, HomeAssistantLight)
    return await _home_assistant(settings, "light", name, spec.entity_id)


async def _speaker(settings: Settings, name: str, spec: object) -> Answer:
    if isinstance(spec, LocalSpeaker):
        player = spec.command[0]
        if shutil.which(player) is None:
            return Answer("speaker", name, False, f"player {player!r} not found")
        problem = engine_problem() if not spec.voice.endswith(".onnx") else None
        if problem is not None:
            return Answer("speaker", name, False, problem)
        return await _local(settings, name, spec)
    if isinstance(spec, HomeAssistantSpeaker):
        return await _home_assistant_speaker(settings, name, spec)
    if isinstance(spec, SonosSpeaker):
        return await _reachable("speaker", name, spec.host, SONOS_PORT, "sonos")
    assert isinstance(spec, CastSpeaker)
    return await _reachable("speaker", name, spec.host, spec.port, "cast")


async def _local(settings: Settings, name: str, spec: LocalSpeaker) -> Answer:
    """The player plays a moment of silence: found on PATH is not yet able to open the sound device."""
    device = LocalSpeakerDevice(spec, SpeechCache(settings.cache_dir))
    command = shlex.join(spec.command)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await device.check()
    except TimeoutError:
        why = f"player `{command}` did not play a moment of silence within {PROBE_TIMEOUT_S:g} s"
        return Answer("speaker", name, False, why)
    except SpeakerError as exc:
        return Answer("speaker", name, False, str(exc))
    finally:
        await device.aclose()  # a streaming player is not left running
    return Answer("speaker", name, True, f"local, `{command}` played a moment of silence")


async def _home_assistant(settings: Settings, kind: str, name: str, entity_id: str) -> Answer:
    try:
        state = await HomeAssistantApi.of(settings.home_assistant).state(entity_id)
    except HomeflowError as exc:
        return Answer(kind, name, False, str(exc))
    return Answer(kind, name, True, f"{entity_id} is {state.get('state', 'unknown')}")


async def _home_assistant_speaker(settings: Settings, name: str, spec: HomeAssistantSpeaker) -> Answer:
    """The player and what speaks: the TTS entity, or the legacy engine's `tts.<engine>_say` service.
    Home Assistant answers `tts.speak` to a missing entity with 200 and plays nothing, so ask first."""
    player = await _home_assistant(settings, "speaker", name, spec.media_player)
    if not player.ok:
        return player
    api = HomeAssistantApi.of(settings.home_assistant)
    service = spec.tts.removeprefix("tts.")
    try:
        if legacy_engine(spec.tts) is None:
            await api.state(spec.tts)
        elif service not in await api.services("tts"):
            why = f"Home Assistant has no service {spec.tts} (is the TTS platform set up?)"
            return Answer("speaker", name, False, why)
    except HomeflowError as exc:
        hint = ", or a legacy engine's service tts.<engine>_say" if "(404)" in str(exc) else ""
        return Answer("speaker", name, False, f"{exc}: set tts to a TTS entity{hint}")
    return Answer("speaker", name, True, f"{player.detail}; {spec.tts} speaks")


async def _reachable(kind: str, name: str, host: str, port: int, what: str) -> Answer:
    """Whether the device accepts a connection on its control port (no command is sent)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port, family=socket.AF_INET)
    except (OSError, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)).lower()
        return Answer(kind, name, False, f"{what} at {host}:{port}: {reason}")
    writer.close()
    await writer.wait_closed()
    return Answer(kind, name, True, f"{what} at {host}:{port}")
