"""Zigbee2MQTT buttons: turn device messages into gestures, once per press."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import aiomqtt

from homeflow import jsontext
from homeflow.clock import Clock
from homeflow.mqtt import MqttConnection, describe, payload_text
from homeflow.settings.model import Zigbee2MqttButton

log = logging.getLogger(__name__)

# Zigbee2MQTT may deliver one press twice (the JSON state and the legacy `/action` topic, or a QoS
# redelivery); the same action again within this window is the same press.
DUPLICATE_WINDOW_S = 0.3
# What Zigbee2MQTT actions look like (`single`, `brightness_move_up`, `1_double`); anything else on a
# button's topics (JSON on the legacy topic, binary, a page of text) is not a press.
ACTION = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")

GestureHandler = Callable[[Zigbee2MqttButton, str], Awaitable[None]]


def parse_action(payload: str, *, legacy_topic: bool) -> str | None:
    """The action a button reports, or None for messages that carry none (an empty follow-up)."""
    if legacy_topic:
        action: object = payload.strip()
        if not action:
            return None
    else:
        try:
            data = jsontext.loads(payload)
        except ValueError as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        action = data.get("action")
        if action is None or action == "":
            return None
        if not isinstance(action, str):
            raise ValueError(f"action is {type(action).__name__}, not a string")
    if not isinstance(action, str) or not ACTION.fullmatch(action):
        raise ValueError("not a button action")
    return action


class Zigbee2MqttButtonTrigger:
    """Listens to one button on its device topic and its legacy action topic."""

    def __init__(
        self, button: Zigbee2MqttButton, base_topic: str, on_gesture: GestureHandler, clock: Clock
    ) -> None:
        self.button = button
        self.topic = f"{base_topic}/{button.friendly_name}"
        self._on_gesture = on_gesture
        self._clock = clock
        self._last: tuple[str, float] | None = None

    def listen(self, mqtt: MqttConnection) -> None:
        """Hear the button on its device topic and its legacy action topic."""
        mqtt.route(self.topic, self._on_message)
        mqtt.route(f"{self.topic}/action", self._on_message)

    async def _on_message(self, message: aiomqtt.Message) -> None:
        if message.retain:
            return  # a retained press is history, not a press
        try:
            action = parse_action(payload_text(message), legacy_topic=message.topic.value.endswith("/action"))
        except ValueError as exc:
            log.warning("button %s: %s: %s", self.button.name, exc, describe(message))
            return
        if action is None:
            return
        now = self._clock.monotonic()
        if self._last is not None and self._last[0] == action and now - self._last[1] < DUPLICATE_WINDOW_S:
            return
        self._last = (action, now)
        log.info("button %s: %s", self.button.name, action)
        await self._on_gesture(self.button, action)
