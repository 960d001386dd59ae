"""Typed, validated settings: what `homeflow.yaml` says once loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from homeflow.routine.model import Routine


@dataclass(frozen=True, slots=True)
class Tls:
    """TLS for the MQTT connection; empty paths use the system's trust store."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    base_topic: str = "homeflow"
    client_id: str = "homeflow"
    tls: Tls | None = None
    keepalive: int = 30


@dataclass(frozen=True, slots=True)
class Zigbee2MqttSettings:
    base_topic: str = "zigbee2mqtt"


@dataclass(frozen=True, slots=True)
class Zigbee2MqttLight:
    """A light paired with Zigbee2MQTT, by its friendly name."""

    name: str
    friendly_name: str


LightSettings = Zigbee2MqttLight


@dataclass(frozen=True, slots=True)
class LocalSpeaker:
    """Speech rendered on this host with espeak-ng and played by a command (default `aplay -q`)."""

    name: str
    voice: str = "en-us"
    rate_wpm: int = 150
    player: tuple[str, ...] = ("aplay", "-q")
    lead_in_s: float = 0.2


SpeakerSettings = LocalSpeaker


@dataclass(frozen=True, slots=True)
class Zigbee2MqttButton:
    """A button paired with Zigbee2MQTT; `gestures` maps its actions to commands."""

    name: str
    friendly_name: str
    gestures: dict[str, str] = field(
        default_factory=lambda: {"single": "toggle", "double": "skip", "hold": "cancel", "long": "cancel"}
    )


ButtonSettings = Zigbee2MqttButton


@dataclass(frozen=True, slots=True)
class ButtonTrigger:
    """Start (and steer) the routine from a named button."""

    button: str


Trigger = ButtonTrigger


@dataclass(frozen=True, slots=True)
class Automation:
    """Binds a routine to its triggers and to the lights and speakers of its room."""

    routine: str
    when: tuple[Trigger, ...]
    lights: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    mqtt: MqttSettings
    journal: Path
    cache_dir: Path
    zigbee2mqtt: Zigbee2MqttSettings
    lights: dict[str, LightSettings]
    speakers: dict[str, SpeakerSettings]
    buttons: dict[str, ButtonSettings]
    routines_dir: Path
    routines: dict[str, Routine]
    automations: tuple[Automation, ...]
