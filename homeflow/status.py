"""The one publisher of what the house sees: each routine's state and stats (retained), its events and
what it says, on MQTT and to the web's live view.

Reporting never waits for the broker: messages go out in order from one task (`run`), so a slow or
absent broker costs late messages, never a cue's time. The latest state and stats of every routine
are kept, shown to the web and published again on every (re)connect. The web's live view also gets
the sentence a run is saying (and the count), as it is said.

In a cluster (`homeflow.leases`) the broker hears of a routine from its owner only: `owns` says which
routines this instance publishes. The others' state and figures are taken from what their owners
publish (`mirror`), so any instance's dashboard shows every routine as it is; the sentence being said
is on its owner's dashboard only (mirroring it would cost every instance every sentence of the site).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import aiomqtt

from homeflow import jsontext
from homeflow.clock import Clock
from homeflow.mqtt import MAX_INFLIGHT, MqttConnection, describe
from homeflow.state_shape import well_formed, well_formed_stats

log = logging.getLogger(__name__)

# Shutdown waits this long for the last messages to go out.
FLUSH_TIMEOUT_S = 3.0
# A state or figures of another instance's routine larger than this is not shown.
MAX_MIRRORED_BYTES = 65536
# Messages sent but not yet acknowledged by the broker (the MQTT client is told the same window).
IN_FLIGHT = MAX_INFLIGHT

StateListener = Callable[[str, dict[str, Any]], None]
Outgoing = tuple[str, str | dict[str, Any], bool]  # topic, payload, retain


class RoutineState(StrEnum):
    """Every value `<base>/<routine>/state` carries in its `state` field."""

    IDLE = "idle"
    STARTING = "starting"  # lights dim while the speech is prepared
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ASKING = "asking"  # the end-of-run question is open


class RunEvent(StrEnum):
    """What `<base>/<routine>/event` says happened."""

    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    RESUMED = "resumed"  # taken over from another homeflow, going on at the step that was playing
    REFUSED = "refused"  # a start that did not happen, with its reason
    # The question was answered (late too) or closed unanswered: the answer and the next run's level.
    ANSWERED = "answered"


def idle() -> dict[str, Any]:
    return {"state": str(RoutineState.IDLE), "step": None, "step_index": None}


class Status:
    def __init__(self, mqtt: MqttConnection, base_topic: str, clock: Clock, routines: list[str]) -> None:
        self.mqtt = mqtt
        self.base_topic = base_topic
        self.clock = clock
        self._states: dict[str, dict[str, Any]] = {routine: idle() for routine in routines}
        self._stats: dict[tuple[str, str | None], dict[str, Any]] = {}  # by routine and profile
        self._lights: dict[str, dict[str, dict[str, Any]]] = {routine: {} for routine in routines}
        # The latest sentence of each routine's plan being said: its text, step, and count (n of total).
        self._spoken: dict[str, dict[str, Any]] = {}
        # The latest reply to an answer of each routine, numbered: a page shows what was said to the
        # answer it gave, not an earlier one.
        self._replies: dict[str, dict[str, Any]] = {}
        self._reply_count = 0
        self._listeners: list[StateListener] = []
        self.degraded: str | None = None  # what keeps homeflow from doing all it should (the journal)
        self._outbox: asyncio.Queue[Outgoing] = asyncio.Queue()
        self.owns: Callable[[str], bool] = lambda _routine: True
        # What the owners of the routines this instance does not own publish (`mirror`).
        self._owners_states: dict[str, dict[str, Any]] = {}
        self._owners_stats: dict[tuple[str, str | None], dict[str, Any]] = {}
        mqtt.on_connect(self._republish)

    def mirror(self) -> None:
        """In a cluster: show the state and figures that the owners of the other routines publish."""
        for what in ("state", "stats", "stats/+"):
            self.mqtt.route(f"{self.base_topic}/+/{what}", self._on_owners)

    # -- what is reported ------------------------------------------------------------------------
    def state(self, routine: str, state: dict[str, Any]) -> None:
        self._states[routine] = state
        if state["state"] in (RoutineState.IDLE, RoutineState.STARTING):
            self._spoken.pop(routine, None)  # a new run says its own; an ended one nothing
        if state["state"] == RoutineState.STARTING:
            self._replies.pop(routine, None)
        self._publish_state(routine)

    def light_changed(self, routine: str, light: str, look: dict[str, Any]) -> None:
        """A virtual light's look rides on the state, so the dashboard shows it dim with the run."""
        self._lights[routine][light] = look
        self._publish_state(routine)

    def journal_problem(self, problem: str | None) -> None:
        """The journal cannot be written (or can again): every state says so."""
        self.degraded = problem
        for routine in self._states:
            self._publish_state(routine)

    def stats(self, routine: str, stats: dict[str, Any], profile: str | None = None) -> None:
        """The routine's figures, or one of its profiles' (on `stats/<profile>`)."""
        self._stats[routine, profile] = stats
        self._send(routine, _stats_topic(profile), stats, retain=True)

    def event(self, routine: str, event: RunEvent, **fields: Any) -> None:
        payload = {"event": str(event), **fields, "at": self.clock.wall().isoformat()}
        self._send(routine, "event", payload)
        if event is RunEvent.REFUSED:  # kept, for Home Assistant's "last refused start" sensor
            self._send(routine, "refused", payload, retain=True)

    def schedules(self, routine: str, enabled: bool) -> None:
        """Whether the routine's schedules are on (`ON`) or paused (`OFF`), kept by the broker."""
        self._send(routine, "schedules", "ON" if enabled else "OFF", retain=True)

    def said(self, routine: str, text: str, **fields: Any) -> None:
        """Relay a sentence on the say topic (for displays, and for a house without a speaker). A
        sentence of the plan (it has a `step`) is also what the web's live view shows: a number of a
        count (`count` of `of`) keeps the sentence that introduced it."""
        self._send(routine, "say", {"text": text, **fields})
        step = fields.get("step")
        if step is None:
            return  # a phrase around the plan (paused, a reply): the guidance stays as it was
        spoken: dict[str, Any] = {"text": text, "step": step}
        if "count" in fields:
            before = self._spoken.get(routine, {})
            spoken["text"] = before.get("text") if before.get("step") == step else None
            spoken |= {"count": fields["count"], "of": fields["of"]}
        self._spoken[routine] = spoken
        if self._listeners:  # a page is watching: no view built per cue otherwise
            view = self.live(routine)
            for listener in list(self._listeners):
                listener(routine, view)

    def replied(self, routine: str, text: str, **fields: Any) -> None:
        """Relay the reply to an answer as `said` does, and show it on the web's live view (`reply`:
        its `text` and number `n`) until the routine's next run starts."""
        self._reply_count += 1
        self._replies[routine] = {"text": text, "n": self._reply_count}
        self.said(routine, text, **fields)
        if self._listeners:
            view = self.live(routine)
            for listener in list(self._listeners):
                listener(routine, view)

    # -- what is shown ---------------------------------------------------------------------------
    def current(self, routine: str) -> dict[str, Any]:
        if not self.owns(routine) and (theirs := self._owners_states.get(routine)) is not None:
            return dict(theirs)
        state = dict(self._states[routine])
        if shown := self._lights[routine]:
            state["lights"] = dict(shown)
        if self.degraded:
            state["degraded"] = self.degraded
        return state

    def live(self, routine: str) -> dict[str, Any]:
        """The state as the web shows it: with, while a run says its plan, `spoken` (the sentence of the
        current step being said, and `count` of `of` while counting), and `reply` (`replied`)."""
        state = self.current(routine)
        spoken = self._spoken.get(routine)
        step = state.get("step_index")
        if spoken is not None and spoken["step"] == (-1 if step is None else step):
            state["spoken"] = {key: value for key, value in spoken.items() if key != "step"}
        if (reply := self._replies.get(routine)) is not None:
            state["reply"] = dict(reply)
        return state

    def current_stats(self, routine: str, profile: str | None = None) -> dict[str, Any]:
        if not self.owns(routine) and (theirs := self._owners_stats.get((routine, profile))) is not None:
            return theirs
        return self._stats.get((routine, profile), {})

    def watch(self, listener: StateListener) -> Callable[[], None]:
        """Call `listener(routine, live)` on every change of what `live` shows; returns the function
        that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def _on_owners(self, message: aiomqtt.Message) -> None:
        """`<base>/<routine>/state`, `…/stats` or `…/stats/<profile>` as a routine's owner published it."""
        parts = message.topic.value[len(self.base_topic) + 1 :].split("/")
        routine = parts[0]
        if routine not in self._states or self.owns(routine):
            return  # this instance's own (or no routine of these settings)
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            shown = jsontext.loads(payload) if len(payload) <= MAX_MIRRORED_BYTES else None
        except ValueError:
            shown = None
        if not isinstance(shown, dict) or (parts[1] == "state" and shown.get("state") not in _STATES):
            log.debug("not shown, not a routine's state or figures: %s", describe(message))
            return
        if parts[1] == "state":
            try:
                shown = well_formed(shown)
            except ValueError as exc:
                log.debug("not shown, not a routine's state (%s): %s", exc, describe(message))
                return
            self._owners_states[routine] = shown
            view = self.live(routine)
            for listener in list(self._listeners):
                listener(routine, view)
        else:
            try:
                shown = well_formed_stats(shown)
            except ValueError as exc:
                log.debug("not shown, not a routine's figures (%s): %s", exc, describe(message))
                return
            self._owners_stats[routine, parts[2] if len(parts) > 2 else None] = shown

    # -- sending ---------------------------------------------------------------------------------
    async def run(self) -> None:
        """Send what was reported, in order, until cancelled. Up to `IN_FLIGHT` messages wait for the
        broker's acknowledgement at once: each is handed to the client in order as its task starts, so
        a distant broker costs a round trip per burst, not per message."""
        in_flight = asyncio.Semaphore(IN_FLIGHT)
        async with asyncio.TaskGroup() as sending:
            while True:
                message = await self._outbox.get()
                await in_flight.acquire()
                sending.create_task(self._deliver(message, in_flight))

    async def _deliver(self, message: Outgoing, in_flight: asyncio.Semaphore) -> None:
        topic, payload, retain = message
        try:
            await self.mqtt.publish(topic, payload, retain=retain)
        finally:
            in_flight.release()
            self._outbox.task_done()

    async def flush(self) -> None:
        """Wait (bounded) until everything reported so far has been sent or given up."""
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await self._outbox.join()
        except TimeoutError:
            log.warning("%d status message(s) not sent within %g s", self._outbox.qsize(), FLUSH_TIMEOUT_S)

    def _publish_state(self, routine: str) -> None:
        view = self.live(routine)
        for listener in list(self._listeners):
            listener(routine, view)
        self._send(routine, "state", self.current(routine), retain=True)

    def _send(self, routine: str, what: str, payload: str | dict[str, Any], *, retain: bool = False) -> None:
        """Queue `<base>/<routine>/<what>`, if this instance owns the routine."""
        if self.owns(routine):
            self._outbox.put_nowait((f"{self.base_topic}/{routine}/{what}", payload, retain))

    def show(self, routine: str) -> None:
        """The routine's retained state and stats as this instance has them: after a (re)connect, and
        when it has taken the routine over from another instance."""
        self._send(routine, "state", self.current(routine), retain=True)
        for (of, profile), stats in list(self._stats.items()):
            if of == routine:
                self._send(routine, _stats_topic(profile), stats, retain=True)

    async def _republish(self) -> None:
        """After a (re)connect: retained state the broker may have lost, or never had."""
        for routine in self._states:
            self.show(routine)


_STATES = frozenset(RoutineState)


def _stats_topic(profile: str | None) -> str:
    return "stats" if profile is None else f"stats/{profile}"
