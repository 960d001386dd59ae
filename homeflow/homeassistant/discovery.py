"""Home Assistant MQTT discovery: each routine is a device with buttons, controls, sensors, an event and
triggers (their configs: `homeflow.homeassistant.entities`).

Configs are retained on `<prefix>/<component>/<node_id>/<object_id>/config`, where `node_id` comes from
homeflow's base topic, so two homeflow instances on one broker never share an entity.

Removal needs to know what was published before. The broker already keeps that record: homeflow
subscribes to its own `<prefix>/+/<node_id>/+/config`, and a *retained* config arriving there that the
current settings do not define (a routine since deleted, an entity a newer homeflow dropped) is
cleared with an empty retained payload, which is Home Assistant's signal to remove the entity. No index
topic or local file can drift out of step with the broker, and it works after a reinstall too. Our own
publishes come back to us live (not retained), so they never look like leftovers.

In a cluster every instance publishes the hub (a status per instance) and the owner of a routine its
device's configs (`owns`), the same configs whichever instance it is: one device per routine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence

import aiomqtt

from homeflow.homeassistant.entities import (
    EVENT_TYPES,
    Config,
    configs_by_routine,
    discovery_configs,
    node_id,
)
from homeflow.mqtt import OFFLINE, ONLINE, MqttConnection, describe, payload_text
from homeflow.routine.model import Routine
from homeflow.settings.model import Cluster, HomeAssistantSettings

log = logging.getLogger(__name__)

__all__ = ["EVENT_TYPES", "Discovery", "discovery_configs", "node_id"]

# Requests within this long are one republish.
COALESCE_S = 0.1
# Below aiomqtt's threshold of 10 pending publishes, above which it logs a warning per publish.
PUBLISH_BATCH = 8
# Leftovers are cleared this many per pause (COALESCE_S), 400 a second: each clearing comes back to
# homeflow's own subscription, and thousands at once would queue ahead of a button press on the one
# connection, holding up its light command by seconds.
CLEAR_BATCH = 40


class Discovery:
    """Keeps Home Assistant's picture of homeflow right: configs on every connect and every HA start,
    leftovers removed. With `discovery: false` it publishes nothing and removes what it published."""

    def __init__(
        self,
        settings: HomeAssistantSettings,
        mqtt: MqttConnection,
        base_topic: str,
        routines: Mapping[str, Routine],
        *,
        url: str | None = None,
        areas: Mapping[str, str] | None = None,
        cluster: Cluster | None = None,
        profiles: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.enabled = settings.discovery
        self.prefix = settings.discovery_prefix
        self.node = node_id(base_topic)
        by_routine = configs_by_routine(
            self.prefix,
            base_topic,
            routines,
            url=url,
            area=settings.area,
            areas=areas,
            cluster=cluster,
            profiles=profiles,
        )
        self._by_routine = by_routine if settings.discovery else {}
        self.configs = {topic: c for configs in self._by_routine.values() for topic, c in configs.items()}
        self.owns: Callable[[str], bool] = lambda _routine: True
        self._wanted = asyncio.Event()
        self._republish = False
        self._taken: set[str] = set()  # routines taken over since the last publish
        # Retained configs of entities the settings no longer have, in the order they came.
        self._stale: dict[str, None] = {}
        self._cleared = 0  # of the leftovers seen since the last time there were none

    def listen(self) -> None:
        """Publish on every connect, again when Home Assistant starts, and clear leftovers (all sent
        by `run`, so no message handler ever waits for the broker)."""
        if self.enabled:
            self.mqtt.route(f"{self.prefix}/status", self._on_home_assistant_status)
        self.mqtt.route(f"{self.prefix}/+/{self.node}/+/config", self._on_config, qos=0)
        self.mqtt.on_connect(self._on_connect)

    async def run(self) -> None:
        """Send what was asked for, until cancelled. A burst of requests (Home Assistant's `online`
        repeated, by a restart loop or by anyone on the broker) becomes one republish."""
        while True:
            await self._wanted.wait()
            await asyncio.sleep(COALESCE_S)
            self._wanted.clear()
            taken, self._taken = self._taken, set()
            if self._republish:
                self._republish = False
                await self.publish_all()
            elif taken:
                await self._publish([i for r in sorted(taken) for i in self._by_routine.get(r, {}).items()])
            await self._clear_some()

    async def _clear_some(self) -> None:
        """Remove the next few leftovers (an empty retained config); come back for the rest."""
        batch = list(itertools.islice(self._stale, CLEAR_BATCH))
        for topic in batch:
            del self._stale[topic]
        await self._publish([(topic, "") for topic in batch])
        self._cleared += len(batch)
        if self._stale:
            self._wanted.set()
        elif batch:
            log.info("removed %d Home Assistant entities no longer in the settings", self._cleared)
            self._cleared = 0

    def taken(self, routine: str) -> None:
        """This instance has taken `routine` over: its device's configs go out (the same as before)."""
        self._taken.add(routine)
        self._wanted.set()

    async def publish_all(self) -> None:
        """The hub's configs, and those of every routine this instance owns."""
        mine = [r for r in self._by_routine if r is None or self.owns(r)]
        await self._publish([item for r in mine for item in self._by_routine[r].items()])

    async def _publish(self, items: list[tuple[str, Config | str]]) -> None:
        # A few at a time: one by one, each QoS 1 publish waits a round trip for its acknowledgement
        # (tens of milliseconds with delayed ACKs); all at once, aiomqtt warns about pending calls.
        for start in range(0, len(items), PUBLISH_BATCH):
            batch = items[start : start + PUBLISH_BATCH]
            await asyncio.gather(*(self.mqtt.publish(topic, config, retain=True) for topic, config in batch))

    def _ask_republish(self) -> None:
        self._republish = True
        self._wanted.set()

    async def _on_connect(self) -> None:
        self._ask_republish()

    async def _on_home_assistant_status(self, message: aiomqtt.Message) -> None:
        status = payload_text(message).strip()
        if status == ONLINE:
            # Home Assistant (re)started; a broker without persistence may have lost our configs.
            if not self._republish:
                log.info("Home Assistant is online: publishing %d discovery configs", len(self.configs))
            self._ask_republish()
        elif status != OFFLINE:
            log.warning("Home Assistant status is neither online nor offline: %s", describe(message))

    async def _on_config(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        if not message.retain or not message.payload or topic in self.configs:
            return
        if not self._stale and not self._cleared:
            log.info("removing Home Assistant entities no longer in the settings, first %s", topic)
        self._stale[topic] = None
        self._wanted.set()
