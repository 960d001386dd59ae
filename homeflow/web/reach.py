"""Reaching the dashboard from a phone: the address to open and a one-time pairing link, printed with
a QR code of the link by `homeflow run` (when other machines can reach it) and `homeflow pair`."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import segno

from homeflow.settings.http import is_loopback
from homeflow.settings.model import HttpSettings
from homeflow.web.pairing import CODE_TTL_S, Pairing

# A documentation address (RFC 5737) that is never routed: asking the kernel for a route to it sends
# nothing and names this machine's address on its default network.
_PROBE = ("192.0.2.1", 9)
QR_BORDER = 2  # modules of quiet zone: enough for a phone's camera, small in a terminal


def dashboard_address(http: HttpSettings, listening: str | None = None) -> str:
    """The dashboard's address as another machine opens it: `public_url`, else the bound address, else
    (bound to every address) this machine's address on its network; `listening` is the URL the server
    reported, whose port counts when `http.port` is 0."""
    if http.public_url:
        return http.public_url.rstrip("/")
    port = (urlsplit(listening).port if listening else None) or http.port
    host = http.bind
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if address.is_unspecified:
            host = network_address(address.version) or ("127.0.0.1" if address.version == 4 else "::1")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def network_address(version: int = 4) -> str | None:
    """This machine's address on the network of its default route, or None without one."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    probe = _PROBE if version == 4 else ("2001:db8::1", 9)
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.connect(probe)  # a UDP connect only picks the route; no packet leaves
            return str(udp.getsockname()[0])
    except OSError:
        return None


def pairing_link(address: str, token: str) -> str:
    """A new one-time link that signs a browser in (see homeflow.web.pairing)."""
    return f"{address}/pair/{Pairing(token, time.time).code()}"


def qr_code(text: str) -> str:
    """`text` as a QR code of half-block characters, for a terminal."""
    out = io.StringIO()
    segno.make(text, error="m", boost_error=False).terminal(out=out, compact=True, border=QR_BORDER)
    return out.getvalue()


def reach_text(http: HttpSettings, listening: str | None = None, *, qr: bool = True) -> str:
    """What to open on a phone: the address, and with a token a pairing link and its QR code."""
    address = dashboard_address(http, listening)
    if not http.token:
        return f"the dashboard: {address}/\n" + (qr_code(f"{address}/") if qr else "")
    link = pairing_link(address, http.token)
    minutes = CODE_TTL_S // 60
    text = (
        f"the dashboard: {address}/\n"
        f"sign a phone or browser in: open {link}\n"
        f"(once, within {minutes} minutes; `homeflow pair` prints a new link)\n"
    )
    return text + (qr_code(link) if qr else "")


def reachable_from_others(http: HttpSettings) -> bool:
    """Whether other machines can open the dashboard (it does not listen on loopback only)."""
    return not is_loopback(http.bind)
