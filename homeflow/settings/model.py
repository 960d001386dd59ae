"""Typed, validated settings: what `homeflow.yaml` says once loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from homeflow.routine.model import Routine


@dataclass(frozen=True, slots=True, repr=False)
class Database:
    """A PostgreSQL journal: `url` (`postgresql://user@host:port/name`), and its password if the URL
    does not hold it. Shown as `public`: the URL without its password."""

    url: str
    password: str | None = field(default=None, repr=False)

    @property
    def public(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = f"{parts.username}@" if parts.username else ""
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=user + host))

    def __str__(self) -> str:
        return self.public

    def __repr__(self) -> str:  # settings get logged; the password must not be
        return f"Database({self.public!r})"


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
    # Use the broker listening on 127.0.0.1:port, or start one there inside homeflow.
    embedded: bool = False


@dataclass(frozen=True, slots=True)
class Zigbee2MqttSettings:
    base_topic: str = "zigbee2mqtt"


@dataclass(frozen=True, slots=True)
class Zigbee2MqttLight:
    """A light paired with Zigbee2MQTT, by its friendly name."""

    name: str
    friendly_name: str


@dataclass(frozen=True, slots=True)
class HomeAssistantLight:
    """A light Home Assistant knows, by entity id, driven over its REST API."""

    name: str
    entity_id: str


@dataclass(frozen=True, slots=True)
class VirtualLight:
    """A light that exists only in homeflow and on its dashboard, to see a routine dim without a lamp."""

    name: str


LightSettings = Zigbee2MqttLight | HomeAssistantLight | VirtualLight


# A local speaker's streaming player reads raw PCM on stdin; each word may hold these placeholders,
# filled from the clip's WAV header (aplay reads stdin when given no file).
STREAM_PLACEHOLDERS = ("rate", "channels")
STREAM_PLAYER = ("aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", "{rate}", "-c", "{channels}")


@dataclass(frozen=True, slots=True)
class LocalSpeaker:
    """Speech rendered on this host with espeak-ng and streamed as raw PCM to one long-lived player
    (default `aplay`); or, with `player`, played by a command given each sentence's WAV file."""

    name: str
    voice: str = "en-us"
    rate_wpm: int = 150
    player: tuple[str, ...] | None = None  # a command given each clip's WAV file; None: streamed
    lead_in_s: float = 0.2
    voice_given: bool = field(default=False, compare=False)  # `voice` written: kept in any language
    voices: tuple[tuple[str, str], ...] = ()  # (language, voice): `voice: {de: de+f3}`
    voice_at: str = field(default="", compare=False)  # `FILE:LINE:COL` of a written `voice`, for warnings
    stream_player: tuple[str, ...] = STREAM_PLAYER  # fed raw PCM on stdin, {rate} and {channels} filled

    @property
    def command(self) -> tuple[str, ...]:
        """The command that plays: `player` if given, else `stream_player`."""
        return self.player or self.stream_player


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window (in the settings' time zone) when announcements play at a lower volume."""

    start: time
    end: time  # before `start`: the window runs over midnight
    volume: float

    def covers(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True)
class HomeAssistantSpeaker:
    """A `media_player` Home Assistant knows, spoken to with its `tts.speak` (the `tts` entity renders)."""

    name: str
    media_player: str
    tts: str
    announce: bool = True
    language: str | None = None
    options: dict[str, str | int | float | bool] = field(default_factory=dict)
    volume: float | None = None
    quiet_hours: QuietHours | None = None
    # Home Assistant renders the speech; homeflow's own espeak-ng render of each sentence times the plan.
    voice: str = "en-us"
    rate_wpm: int = 150
    lead_in_s: float = 0.0
    voice_given: bool = field(default=False, compare=False)
    voices: tuple[tuple[str, str], ...] = ()
    voice_at: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class SonosSpeaker:
    """A Sonos player by address, given homeflow's rendered clips by URL (through soco)."""

    name: str
    host: str
    volume: float | None = None
    quiet_hours: QuietHours | None = None
    voice: str = "en-us"
    rate_wpm: int = 150
    lead_in_s: float = 0.5  # a Sonos starts a stream a moment late: silence, not the first word, is lost
    voice_given: bool = field(default=False, compare=False)
    voices: tuple[tuple[str, str], ...] = ()
    voice_at: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class CastSpeaker:
    """A Google Cast (Nest, Chromecast) speaker by address, given homeflow's rendered clips by URL."""

    name: str
    host: str
    port: int = 8009
    volume: float | None = None
    quiet_hours: QuietHours | None = None
    voice: str = "en-us"
    rate_wpm: int = 150
    lead_in_s: float = 0.5
    voice_given: bool = field(default=False, compare=False)
    voices: tuple[tuple[str, str], ...] = ()
    voice_at: str = field(default="", compare=False)


SpeakerSettings = LocalSpeaker | HomeAssistantSpeaker | SonosSpeaker | CastSpeaker


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


@dataclass(frozen=True, slots=True)
class ScheduleTrigger:
    """Start (or, with `announce`, invite) the routine at the times of a cron expression; `at`/`days`
    in the settings are written down as one."""

    cron: str
    announce: str | None = None  # say this and let a button press start it, instead of starting
    skip_if_done_today: bool = True


Trigger = ButtonTrigger | ScheduleTrigger


@dataclass(frozen=True, slots=True)
class Profile:
    """A person who does the routine, with their own level, streak and history; runs started by
    `button` are theirs."""

    name: str
    button: str | None = None


@dataclass(frozen=True, slots=True)
class Automation:
    """Binds a routine to its triggers and to the lights and speakers of its room."""

    routine: str
    when: tuple[Trigger, ...]
    lights: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    profiles: tuple[Profile, ...] = ()  # the first is who a run is for when nothing says otherwise
    area: str | None = None  # the room Home Assistant suggests for the routine's device


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The web dashboard and API; `port` 0 takes any free port. A token is required off loopback."""

    bind: str = "127.0.0.1"
    port: int = 8765
    token: str | None = field(default=None, repr=False)
    public_url: str | None = None
    # The address of Home Assistant's Ingress proxy (the Supervisor), whose requests need no token:
    # Home Assistant has authenticated them. Set only for the add-on, never from a settings file.
    ingress_proxy: str | None = None
    # Home Assistant's own link to the dashboard (`homeassistant://hassio/ingress/<slug>`, the add-on's
    # panel), which each device's "Visit" opens. Set only for the add-on.
    panel_url: str | None = None


@dataclass(frozen=True, slots=True)
class HomeAssistantSettings:
    """MQTT discovery for Home Assistant, and its REST API (`url`, `token`) for its lights."""

    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    area: str | None = None  # the area Home Assistant suggests for homeflow's devices


@dataclass(frozen=True, slots=True)
class Cluster:
    """Several homeflow sharing one PostgreSQL journal and one broker: this one's name (`instance`)
    and every one's (`peers`, the same list in each one's settings: Home Assistant is told a routine is
    available while any of them is online)."""

    instance: str
    peers: tuple[str, ...]
    # What the instance that takes a routine over does with a run its last owner left going.
    on_takeover: str = "resume"  # resume it at the start of the step that was playing; or "interrupt"
    lease_s: float | None = None  # how long a lease lasts unrenewed (None: 5 s); renewed 5 times in it

    def status_topics(self, base_topic: str) -> tuple[str, ...]:
        return tuple(instance_status_topic(base_topic, peer) for peer in self.peers)


def instance_status_topic(base_topic: str, instance: str) -> str:
    """Where one instance of a cluster says `online` and `offline` (its Last Will)."""
    return f"{base_topic}/instances/{instance}/status"


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    mqtt: MqttSettings
    journal: Path | Database  # a SQLite file, or a PostgreSQL database
    cache_dir: Path
    zigbee2mqtt: Zigbee2MqttSettings
    lights: dict[str, LightSettings]
    speakers: dict[str, SpeakerSettings]
    buttons: dict[str, ButtonSettings]
    routines_dir: Path
    routines: dict[str, Routine]
    automations: tuple[Automation, ...]
    time_zone: str | None = None  # IANA name for schedules and "today"; None is the system's
    http: HttpSettings = field(default_factory=HttpSettings)
    home_assistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)
    cluster: Cluster | None = None  # None: one homeflow owns every routine

    @property
    def status_topic(self) -> str:
        """Where this homeflow says `online` and `offline`: `<base>/status`, or its own in a cluster."""
        base = self.mqtt.base_topic
        return instance_status_topic(base, self.cluster.instance) if self.cluster else f"{base}/status"
