"""The `home_assistant` section: MQTT discovery, and the REST API that Home Assistant lights use."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

from homeflow.settings.checks import Checker
from homeflow.settings.model import HomeAssistantSettings
from homeflow.settings.problems import quote
from homeflow.settings.sections import topic
from homeflow.settings.yamlnodes import Node

_KEYS = ("discovery_prefix", "discovery", "url", "token")
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
        url=_url(ch, f.get("url")),
        token=_token(ch, f.get("token")),
    )


def _url(ch: Checker, node: Node | None) -> str | None:
    text = ch.text(node, "home_assistant.url")
    if node is None or text is None:
        return None
    try:
        url = urlsplit(text)
        url.port  # noqa: B018 -- parsing the port is what validates it
    except ValueError as error:
        ch.report(node, "home_assistant.url", f"not a URL: {error}")
        return None
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        ch.report(node, "home_assistant.url", f"expected http://HOST:8123, got {quote(text)}")
        return None
    return text.rstrip("/")


def _token(ch: Checker, node: Node | None) -> str | None:
    token = ch.text(node, "home_assistant.token")
    if node is None or token is None:
        return None
    if not set(token) <= _TOKEN_CHARS:
        ch.report(node, "home_assistant.token", "use only letters, digits and punctuation (no spaces)")
        return None
    return token
