"""Wires settings to devices, triggers and the conductor, and owns every long-running task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from homeflow.broker import start_embedded_broker
from homeflow.clock import Clock, LoopClock
from homeflow.conductor import Conductor
from homeflow.controls import Controls
from homeflow.devices.base import Light, Speaker
from homeflow.devices.lights.home_assistant import HomeAssistantLight
from homeflow.devices.lights.virtual import VirtualLight
from homeflow.devices.lights.zigbee2mqtt import Zigbee2MqttLight
from homeflow.devices.speakers import build_speaker, close_speakers
from homeflow.devices.speakers.clips import ClipServer
from homeflow.devices.speakers.languages import in_language
from homeflow.errors import HomeflowError
from homeflow.homeassistant.api import HomeAssistantApi
from homeflow.homeassistant.discovery import Discovery
from homeflow.homeassistant.entities import dashboard_url
from homeflow.house import House, Room
from homeflow.journal import Database, open_journal
from homeflow.language import ENGLISH, Phrases, phrases
from homeflow.mqtt import MqttConnection
from homeflow.people import fold, levels_of
from homeflow.settings.model import ButtonTrigger, ScheduleTrigger, Settings
from homeflow.settings.model import HomeAssistantLight as HomeAssistantLightSettings
from homeflow.settings.model import VirtualLight as VirtualLightSettings
from homeflow.speech import SpeechCache
from homeflow.status import Status
from homeflow.takeover import RESUME, recover, take_over
from homeflow.triggers.buttons import Zigbee2MqttButtonTrigger
from homeflow.triggers.schedule import Scheduler
from homeflow.web import build_app, run_web
from homeflow.web.pairing import Pairing

if TYPE_CHECKING:
    from homeflow.leases import Leases

log = logging.getLogger(__name__)


class Speakers:
    """The speakers of the settings, each built once per language its routines speak in (a speaker
    without a `voice` of its own takes the routine's language's voice)."""

    def __init__(self, settings: Settings, clock: Clock, server: ClipServer) -> None:
        self.settings = settings
        self.clock = clock
        self.server = server
        self.tz = ZoneInfo(settings.time_zone) if settings.time_zone else None
        self._built: dict[tuple[str, str], Speaker] = {}

    def get(self, name: str, table: Phrases = ENGLISH) -> Speaker | None:
        spec = self.settings.speakers.get(name)
        if spec is None:
            return None
        key = (name, table.code)
        if key not in self._built:
            spec = in_language(spec, table)
            self._built[key] = build_speaker(
                spec, self.server, self.clock, self.settings.home_assistant, self.tz
            )
        return self._built[key]

    async def aclose(self) -> None:
        """Close every speaker built (a local speaker's player process); once, when the service stops."""
        await close_speakers(self._built.values())


def build_speakers(
    settings: Settings, clock: Clock | None = None, server: ClipServer | None = None
) -> Speakers:
    server = server or ClipServer(SpeechCache(settings.cache_dir), settings.http.public_url)
    return Speakers(settings, clock or LoopClock(), server)


def build_lights(settings: Settings, mqtt: MqttConnection) -> dict[str, Light]:
    base = settings.zigbee2mqtt.base_topic
    lights: dict[str, Light] = {}
    for name, spec in settings.lights.items():
        if isinstance(spec, HomeAssistantLightSettings):
            api = HomeAssistantApi.of(settings.home_assistant)
            lights[name] = HomeAssistantLight(name, spec.entity_id, api)
        elif isinstance(spec, VirtualLightSettings):
            lights[name] = VirtualLight(name)
        else:
            lights[name] = Zigbee2MqttLight(name, spec.friendly_name, mqtt, base)
    return lights


def schedules(settings: Settings) -> list[tuple[str, ScheduleTrigger]]:
    return [
        (automation.routine, trigger)
        for automation in settings.automations
        for trigger in automation.when
        if isinstance(trigger, ScheduleTrigger)
    ]


def build_rooms(settings: Settings, lights: Mapping[str, Light], speakers: Speakers) -> dict[str, Room]:
    """Every routine gets a room (it can be started over MQTT); automations add devices and buttons;
    its speakers speak its language."""
    rooms = {routine_id: Room(routine) for routine_id, routine in settings.routines.items()}
    for automation in settings.automations:
        room = rooms[automation.routine]
        room.lights += [lights[n] for n in automation.lights if n in lights and lights[n] not in room.lights]
        table = phrases(room.routine.language)
        room.speakers += [
            speaker
            for n in automation.speakers
            if (speaker := speakers.get(n, table)) is not None and speaker not in room.speakers
        ]
        room.buttons += [
            t.button for t in automation.when if isinstance(t, ButtonTrigger) and t.button not in room.buttons
        ]
        room.profiles |= {profile.name: profile.button for profile in automation.profiles}
    for room in rooms.values():
        room.keys = {name: settings.buttons[name] for name in room.buttons if name in settings.buttons}
    return rooms


@contextlib.asynccontextmanager
async def _one_error() -> AsyncIterator[None]:
    """A task group wraps errors in a group; a HomeflowError is one line for a person, so unwrap it."""
    try:
        yield
    except* HomeflowError as group:
        raise group.exceptions[0] from None


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for its end, asking again if the request was lost: Python 3.11's
    `asyncio.wait_for` (under every acknowledged aiomqtt publish) drops a cancellation that arrives
    just as what it waits for completes, and the task would run on forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=0.1)


def _leases(
    settings: Settings, clock: Clock, conductor: Conductor, discovery: Discovery, lights: dict[str, Light]
) -> Leases | None:
    """In a cluster, the leases that say which routines this instance acts on and publishes."""
    cluster = settings.cluster
    if cluster is None or not isinstance(settings.journal, Database):
        return None
    from homeflow.leases import Leases  # noqa: PLC0415 (psycopg: the optional extra a cluster needs)

    journal = conductor.journal

    async def taking(routine_id: str) -> None:
        # A run its last owner left going goes on here (or is closed, per cluster.on_takeover).
        conductor.levels |= fold(journal, routine_id, conductor.rooms[routine_id])
        if (run := conductor.active.get(routine_id)) is None or run.abandoned:  # back after a cut-off
            await take_over(conductor, lights, routine_id, cluster.on_takeover, settings.buttons)

    def taken(routine_id: str) -> None:
        conductor.status.show(routine_id)
        conductor.report(routine_id)
        discovery.taken(routine_id)

    def lost(routine_id: str) -> None:
        # Another instance may own it now, and goes on with the run (or closes it): a run going here
        # stops at once and leaves the lamps, the journal and the run's end to it. (Restoring the
        # lights here would undo the new owner's ambience.) If no other takes the routine, this one
        # does again once it reaches the journal, and goes on with the run itself.
        if (run := conductor.active.get(routine_id)) is not None:
            log.warning("%s: lease lost mid-run; leaving the run to the routine's next owner", routine_id)
            run.abandon()

    leases = Leases(
        settings.journal,
        cluster.instance,
        list(settings.routines),
        clock,
        taking=taking,
        taken=taken,
        lost=lost,
        busy=lambda routine_id: routine_id in conductor.active,
        lease_s=cluster.lease_s,
        renew_s=None if cluster.lease_s is None else cluster.lease_s / 5,
    )
    conductor.owns = discovery.owns = leases.owns
    conductor.status.owns = leases.publishes  # a take-over's `interrupted` is heard too
    conductor.status.mirror()  # the others' routines as their owners publish them, on this dashboard
    return leases


async def _close_unless_taken(
    leases: Leases, handed: set[str], house: House, lights: Mapping[str, Light]
) -> None:
    """A run handed over that no other instance takes within two of its renewal rounds (the others are
    stopping at the same moment, or died since they were last seen) is closed here after all: as
    interrupted, its lights given back, as a lone homeflow's stop does. A room is never left dim."""
    left = await leases.not_taken(handed, within=2 * leases.renew_s + 0.5)
    for routine in sorted(await leases.take_back(left)):
        log.warning("%s: no other instance took its run over; it ends here", routine)
        await recover(house, lights, routine)
    await (leases.release() if left else leases.close())  # what was taken back, and the connection


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    time_scale: float = 1.0,
    clock: Clock | None = None,
    ready: asyncio.Future[str] | None = None,
) -> None:
    """Run until `stop` is set; then end active runs (restoring their lights), or in a cluster with
    another instance live and `on_takeover: resume` leave them to it, and say `offline`.
    `ready` gets the dashboard's URL once homeflow is connected and has recovered; `clock` (default: the
    loop's, `time_scale` times faster for routines) is the one clock of every part."""
    clock = clock or LoopClock(time_scale)
    tz = ZoneInfo(settings.time_zone) if settings.time_zone else None
    base = settings.mqtt.base_topic
    with open_journal(settings.journal, now=clock.wall) as journal:
        mqtt = MqttConnection(settings.mqtt, settings.status_topic)
        status = Status(mqtt, base, clock, list(settings.routines))
        journal.on_problem = status.journal_problem
        lights = build_lights(settings, mqtt)
        clips = ClipServer(SpeechCache(settings.cache_dir), settings.http.public_url)
        speakers = build_speakers(settings, clock, clips)
        rooms = build_rooms(settings, lights, speakers)
        levels = levels_of(journal, rooms)
        house = House(clock, journal, status, tz)
        conductor = Conductor(rooms, house=house, levels=levels, mqtt=mqtt)
        buttons = [
            Zigbee2MqttButtonTrigger(button, settings.zigbee2mqtt.base_topic, conductor.on_gesture, clock)
            for button in settings.buttons.values()
        ]
        for button in buttons:
            button.listen(mqtt)
        controls = Controls(conductor, mqtt)
        link = dashboard_url(settings.http)
        discovery = Discovery(
            settings.home_assistant,
            mqtt,
            base,
            settings.routines,
            url=link,
            areas={a.routine: a.area for a in settings.automations if a.area},
            cluster=settings.cluster,
            profiles={routine_id: list(room.profiles) for routine_id, room in rooms.items()},
        )
        discovery.listen()
        leases = _leases(settings, clock, conductor, discovery, lights)
        zone = tz or datetime.now().astimezone().tzinfo or UTC
        scheduler = Scheduler(schedules(settings), zone, controls.scheduled, clock)

        # Started in this order and stopped in the reverse: the web (its address is where network
        # speakers fetch clips), the embedded broker, the senders of status and discovery, the
        # connection; then runs and schedules. The speakers are closed last, once every run has
        # ended: no player process outlives the service.
        async with _one_error(), contextlib.aclosing(speakers), asyncio.TaskGroup() as tasks:
            conductor.attach(tasks)
            web_ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            # Pairing codes expire by the wall clock: `homeflow run` and `homeflow pair` make them too.
            pairing = Pairing(settings.http.token or "", lambda: clock.wall().timestamp())
            app = build_app(conductor, settings.http, clips.cache, pairing)
            web = tasks.create_task(run_web(app, settings.http, web_ready), name="web")
            # A WebError (port taken) ends the service here, before anything has moved.
            clips.base = url = await web_ready
            embedded = settings.mqtt.embedded
            broker = await start_embedded_broker(settings.mqtt.port, tasks) if embedded else None
            sender = tasks.create_task(status.run(), name="status")
            announcer = tasks.create_task(discovery.run(), name="discovery")
            connection = tasks.create_task(mqtt.run(), name="mqtt")
            first_connect = tasks.create_task(mqtt.connected.wait())
            stopping = tasks.create_task(stop.wait())
            schedule_task: asyncio.Task[None] | None = None
            await asyncio.wait((first_connect, stopping), return_when=asyncio.FIRST_COMPLETED)
            first_connect.cancel()
            leasing: asyncio.Task[None] | None = None
            if not stop.is_set():
                if leases is None:
                    await recover(house, lights)
                else:  # a run left open is closed by whichever instance takes its routine
                    leasing = tasks.create_task(leases.run(), name="leases")
                conductor.report_all()
                schedule_task = tasks.create_task(scheduler.run(), name="schedules")
                log.info("homeflow ready: %d routine(s), time scale %g", len(rooms), clock.time_scale)
                if ready is not None and not ready.done():
                    ready.set_result(url)
            await stopping
            log.info("stopping")
            if schedule_task is not None:
                await _cancel(schedule_task)
            handing_over = False
            if leases is not None:
                leases.hold()  # renewed while its runs end, then given back
                # Another instance takes the routines at once: it goes on with their runs.
                resume = settings.cluster is not None and settings.cluster.on_takeover == RESUME
                handing_over = resume and bool(conductor.active) and await leases.others_live()
            handed = await conductor.stop(hand_over=handing_over)  # it starts no new run from here on
            if leasing is not None and leases is not None:
                await _cancel(leasing)
                await leases.release()  # the other instances take its routines at once
                if handed:
                    await _close_unless_taken(leases, handed, house, lights)
            web.cancel()
            await asyncio.wait((web,))
            await status.flush()
            await _cancel(sender)
            await _cancel(announcer)
            await mqtt.close()
            await _cancel(connection)
            if broker is not None:
                await broker.close()  # last: the client above said `offline` through it
