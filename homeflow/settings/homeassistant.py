"""The `home_assistant` section: MQTT discovery, and the REST API that Home Assistant lights use."""

from __future__ import annotations

import string

from homeflow.settings.checks import Checker
from homeflow.settings.limits import MAX_AREA_CHARS
from homeflow.settings.model import HomeAssistantSettings
from homeflow.settings.sections import topic
from homeflow.settings.yamlnodes import Node

_KEYS = ("discovery_prefix", "discovery", "url", "token", "area")
# The token travels in an `Authorization` header: visible ASCII only.
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)


def parse_home_assistant(ch: Checker, node: Node | None) -> HomeAssistantSettings:
    """Where discovery configs go, whether to publish them, and how to reach Home Assistant's API."""
    f = ch.fields(node, "home_assistant", _KEYS)
    default = HomeAssistantSettings()
    return HomeAssistantSettings(
        discovery_prefix=topic(
            ch, f.get("discovery_prefix"), "home_assistant.discovery_prefix", default.discovery_prefix
        ),
        discovery=ch.boolean(f.get("discovery"), "home_assistant.discovery", default.discovery),
        url=ch.url(f.get("url"), "home_assistant.url", "http://HOST:8123"),
        token=_token(ch, f.get("token")),
        area=ch.text(f.get("area"), "home_assistant.area", most=MAX_AREA_CHARS),
    )


def _token(ch: Checker, node: Node | None) -> str | None:
    token = ch.text(node, "home_assistant.token")
    if node is None or token is None:
        return None
    if not set(token) <= _TOKEN_CHARS:
        ch.report(node, "home_assistant.token", "use only letters, digits and punctuation (no spaces)")
        return None
    return token
