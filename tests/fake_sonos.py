"""A fake Sonos player at the network edge: the UPnP/SOAP actions soco sends, on port 1400 of loopback.

soco always talks to port 1400, so each fake takes an address of its own in 127.0.0.0/8. It keeps a
player's state (what plays, volume, mute, EQ), records every action in order, and answers like a player.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

SONOS_PORT = 1400
_ARG = re.compile(r"<(\w+)>(.*?)</\1>", re.DOTALL)
_ENVELOPE = (
    '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>{body}</s:Body></s:Envelope>'
)


# The actions soco sends for a snapshot, an announcement and a restore: (in arguments, out arguments).
# soco reads each service's description (SCPD) to put arguments in order, so the fake serves those too.
ACTIONS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "DeviceProperties": {"GetHouseholdID": ((), ("CurrentHouseholdID",))},
    "ZoneGroupTopology": {"GetZoneGroupState": ((), ("ZoneGroupState",))},
    "AVTransport": {
        "GetMediaInfo": (("InstanceID",), ("NrTracks", "MediaDuration", "CurrentURI", "CurrentURIMetaData")),
        "GetTransportInfo": (
            ("InstanceID",),
            ("CurrentTransportState", "CurrentTransportStatus", "CurrentSpeed"),
        ),
        "SetAVTransportURI": (("InstanceID", "CurrentURI", "CurrentURIMetaData"), ()),
        "Play": (("InstanceID", "Speed"), ()),
        "Pause": (("InstanceID",), ()),
        "Stop": (("InstanceID",), ()),
    },
    "RenderingControl": {
        "GetVolume": (("InstanceID", "Channel"), ("CurrentVolume",)),
        "SetVolume": (("InstanceID", "Channel", "DesiredVolume"), ()),
        "GetMute": (("InstanceID", "Channel"), ("CurrentMute",)),
        "SetMute": (("InstanceID", "Channel", "DesiredMute"), ()),
        "GetBass": (("InstanceID",), ("CurrentBass",)),
        "SetBass": (("InstanceID", "DesiredBass"), ()),
        "GetTreble": (("InstanceID",), ("CurrentTreble",)),
        "SetTreble": (("InstanceID", "DesiredTreble"), ()),
        "GetLoudness": (("InstanceID", "Channel"), ("CurrentLoudness",)),
        "SetLoudness": (("InstanceID", "Channel", "DesiredLoudness"), ()),
    },
}


def scpd(service: str) -> str:
    """A UPnP service description with the actions above; every argument typed as a string."""
    names: set[str] = set()
    actions = []
    for action, (ins, outs) in ACTIONS[service].items():
        arguments = [(name, "in") for name in ins] + [(name, "out") for name in outs]
        names.update(name for name, _ in arguments)
        listed = "".join(
            f"<argument><name>{name}</name><direction>{way}</direction>"
            f"<relatedStateVariable>{name}</relatedStateVariable></argument>"
            for name, way in arguments
        )
        actions.append(f"<action><name>{action}</name><argumentList>{listed}</argumentList></action>")
    variables = "".join(
        f'<stateVariable sendEvents="no"><name>{name}</name><dataType>string</dataType></stateVariable>'
        for name in sorted(names)
    )
    return (
        '<?xml version="1.0"?><scpd xmlns="urn:schemas-upnp-org:service-1-0">'
        f"<actionList>{''.join(actions)}</actionList><serviceStateTable>{variables}</serviceStateTable></scpd>"
    )


@dataclass
class Action:
    service: str
    name: str
    args: dict[str, str]


@dataclass
class FakeSonos:
    """One Sonos player: a coordinator of its own group, playing a radio stream at volume 25."""

    host: str = ""
    uri: str = "x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0"
    metadata: str = "<DIDL-Lite>radio</DIDL-Lite>"
    state: str = "PLAYING"
    volume: int = 25
    mute: bool = False
    actions: list[Action] = field(default_factory=list)
    playing: asyncio.Event = field(default_factory=asyncio.Event)  # set by every Play
    # soco caches group state per household for seconds: each fake is a household of its own.
    uid: str = field(default_factory=lambda: f"RINCON_{random.getrandbits(48):012X}01400")
    _runner: web.AppRunner | None = None

    def names(self) -> list[str]:
        return [action.name for action in self.actions]

    def _answer(self, service: str, name: str, args: dict[str, str]) -> dict[str, Any]:
        if name == "GetHouseholdID":
            return {"CurrentHouseholdID": f"Sonos_{self.uid}"}
        if name == "GetZoneGroupState":
            location = f"http://{self.host}:{SONOS_PORT}/xml/device_description.xml"
            state = (
                f'<ZoneGroupState><ZoneGroups><ZoneGroup Coordinator="{self.uid}" ID="{self.uid}:1">'
                f'<ZoneGroupMember UUID="{self.uid}" Location="{location}" ZoneName="Kitchen" BootSeq="1"/>'
                "</ZoneGroup></ZoneGroups><VanishedDevices/></ZoneGroupState>"
            )
            return {"ZoneGroupState": state}
        if name == "GetMediaInfo":
            return {
                "NrTracks": 1,
                "MediaDuration": "",
                "CurrentURI": self.uri,
                "CurrentURIMetaData": self.metadata,
            }
        if name == "GetTransportInfo":
            return {"CurrentTransportState": self.state, "CurrentTransportStatus": "OK", "CurrentSpeed": 1}
        if name == "GetVolume":
            return {"CurrentVolume": self.volume}
        if name == "SetVolume":
            self.volume = int(args["DesiredVolume"])
            return {}
        if name == "GetMute":
            return {"CurrentMute": int(self.mute)}
        if name == "SetMute":
            self.mute = args["DesiredMute"] == "1"
            return {}
        if name in ("GetBass", "GetTreble"):
            return {f"Current{name[3:]}": 0}
        if name == "GetLoudness":
            return {"CurrentLoudness": 1}
        if name in ("SetBass", "SetTreble", "SetLoudness"):
            return {}
        if name == "SetAVTransportURI":
            self.uri, self.metadata, self.state = args["CurrentURI"], args["CurrentURIMetaData"], "STOPPED"
            return {}
        if name == "Play":
            self.state = "PLAYING"
            self.playing.set()
            return {}
        if name == "Pause":
            self.state = "PAUSED_PLAYBACK"
            return {}
        if name == "Stop":
            self.state = "STOPPED"
            return {}
        raise web.HTTPInternalServerError(text=f"fake Sonos: no action {service}#{name}")

    async def _description(self, request: web.Request) -> web.Response:
        service = request.match_info["service"]
        if service not in ACTIONS:
            raise web.HTTPNotFound()
        return web.Response(text=scpd(service), content_type="text/xml")

    async def _control(self, request: web.Request) -> web.Response:
        soap_action = request.headers.get("SOAPACTION", "").strip('"')
        service_type, _, name = soap_action.partition("#")
        service = service_type.split(":")[-2]
        body = await request.text()
        inner = re.search(rf"<u:{name}[^>]*>(.*)</u:{name}>", body, re.DOTALL)
        args = {key: _unescape(value) for key, value in _ARG.findall(inner[1] if inner else "")}
        self.actions.append(Action(service, name, args))
        out = "".join(
            f"<{key}>{escape(str(value))}</{key}>" for key, value in self._answer(service, name, args).items()
        )
        reply = f'<u:{name}Response xmlns:u="{service_type}">{out}</u:{name}Response>'
        return web.Response(text=_ENVELOPE.format(body=reply), content_type="text/xml", charset="utf-8")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeSonos]:
        app = web.Application()
        app.router.add_post("/{path:.+}/Control", self._control)
        app.router.add_get("/xml/{service:[A-Za-z]+}1.xml", self._description)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        # A free address of its own: soco only ever uses port 1400.
        for _ in range(20):
            self.host = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
            try:
                await web.TCPSite(self._runner, self.host, SONOS_PORT).start()
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free loopback address for a fake Sonos")
        try:
            yield self
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop answering, as an unplugged player would."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )
