"""The `http` section: where the dashboard and API listen, and the token that guards them."""

from __future__ import annotations

import ipaddress
import string

from homeflow.settings.checks import Checker, is_null
from homeflow.settings.model import HttpSettings
from homeflow.settings.problems import quote
from homeflow.settings.yamlnodes import Map, Node, Scalar

_HTTP_KEYS = ("bind", "port", "token", "public_url")
MIN_TOKEN_CHARS = 16
# A token travels in an `Authorization` header: visible ASCII only, so it needs no encoding.
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)


def is_loopback(host: str) -> bool:
    """True when only this machine can reach `host`."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: treat it as reachable from outside


def parse_http(ch: Checker, node: Node | None) -> HttpSettings:
    """The web server's address, its token, and the URL others reach it by."""
    f = ch.fields(node, "http", _HTTP_KEYS)
    default = HttpSettings()
    bind = ch.text(f.get("bind"), "http.bind", default.bind)
    port = ch.integer(f.get("port"), "http.port", default.port, lo=0, hi=65535, what="a port number")
    token = _token(ch, f.get("token"))
    written = node.entries if isinstance(node, Map) else {}  # a token that failed was reported already
    if "token" in written and is_null(written["token"][1]):
        # `token:`, `token: ~`, an empty secret or environment variable: a mistake, never "no token".
        _empty_token(ch, written["token"][1])
    elif "token" not in written and "bind" in f and not is_loopback(bind):
        ch.report(
            f["bind"],
            "http.bind",
            f"{quote(bind)} is reachable from other machines: "
            "set http.token (e.g. token: !secret http_token)",
        )
    return HttpSettings(
        bind, port, token, ch.url(f.get("public_url"), "http.public_url", "http://HOST[:PORT][/PATH]")
    )


def token_problem(token: str | None, bind: str) -> str | None:
    """Why a server on `bind` guarded by `token` must not start; None when it may. The loader reports
    the same rules at their places in the file; this keeps the server from trusting settings made
    any other way."""
    if token is None:
        reachable = f"{quote(bind)} is reachable from other machines: set http.token"
        return None if is_loopback(bind) else reachable
    if not set(token) <= _TOKEN_CHARS:
        return "http.token: use only letters, digits and punctuation (no spaces)"
    if len(token) < MIN_TOKEN_CHARS:
        return f"http.token: too short ({len(token)} characters); use at least {MIN_TOKEN_CHARS}"
    return None


def _empty_token(ch: Checker, node: Node) -> None:
    source = f"{node.origin} is empty" if isinstance(node, Scalar) and node.origin else "empty"
    ch.report(
        node,
        "http.token",
        f"{source}; use at least {MIN_TOKEN_CHARS} characters, e.g. `openssl rand -hex 16`",
    )


def _token(ch: Checker, node: Node | None) -> str | None:
    token = ch.text(node, "http.token")
    if node is None or token is None:
        return None
    if not set(token) <= _TOKEN_CHARS:
        ch.report(node, "http.token", "use only letters, digits and punctuation (no spaces)")
        return None
    if len(token) < MIN_TOKEN_CHARS:
        ch.report(
            node,
            "http.token",
            f"too short ({len(token)} characters); "
            f"use at least {MIN_TOKEN_CHARS}, e.g. `openssl rand -hex 16`",
        )
        return None
    return token
