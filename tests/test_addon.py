"""homeflow as a Home Assistant add-on, outside the image: settings from the add-on's options and a fake
Supervisor on loopback, and `homeflow run` as the add-on's entry starts it, against a real Mosquitto
with a password, down to the page under an Ingress prefix."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from homeflow.addon import INGRESS_PROXY, Addon, OptionsError, addon_settings, is_addon
from homeflow.service import serve
from homeflow.settings.model import (
    Automation,
    ButtonTrigger,
    HomeAssistantLight,
    HomeAssistantSpeaker,
    Tls,
    Zigbee2MqttButton,
)
from homeflow.supervisor import AddonError

from .conftest import REPO
from .fake_home_assistant import FakeHomeAssistant
from .fake_supervisor import TOKEN, FakeSupervisor
from .faults import WAIT_S, Credentials, password_file
from .harness import SHORT_ROUTINE, collecting
from .mosquitto import Mosquitto, free_port
from .proxy import proxying
from .web import STRETCH

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

USER = Credentials("addons", "Ieb5ahngoo9quai6")  # what the Mosquitto add-on gives other add-ons
HTTP_TOKEN = "addon-http-token-0123456789"
OPTIONS: dict[str, Any] = {
    "lights": ["light.desk"],
    "speakers": [
        {"media_player": "media_player.kitchen"},
        {"media_player": "media_player.bedroom", "tts": "tts.google_translate_en_com", "volume": 0.3},
    ],
    "tts": "tts.piper",
    "language": "en-GB",
    "voice": "en_GB-alba-medium",
    "buttons": [{"zigbee2mqtt": "Massage Button", "routine": "back-massage"}],
    "zigbee2mqtt_base_topic": "z2m",
    "http_token": HTTP_TOKEN,
}


def addon(tmp_path: Path, supervisor: FakeSupervisor, options: dict[str, Any]) -> Addon:
    """The add-on's folders under `tmp_path` (`data` with the options, `config`), on `supervisor`."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "options.json").write_text(json.dumps(options))
    return Addon(TOKEN, supervisor.url, tmp_path / "data", tmp_path / "config")


def broker_service(port: int = 1883, **more: Any) -> dict[str, Any]:
    """The Supervisor's MQTT service as the Mosquitto add-on publishes it (host 127.0.0.1 here)."""
    return {"host": "127.0.0.1", "port": port, "ssl": False, "protocol": "3.1.1", "app": "core_mosquitto",
            "username": USER.username, "password": USER.password, **more}  # fmt: skip


async def test_the_options_become_homeflows_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    async with FakeSupervisor(mqtt=broker_service()).running() as supervisor:
        settings = await addon_settings(addon(tmp_path, supervisor, OPTIONS))
    assert supervisor.requests == ["GET /services/mqtt", "GET /info", "GET /addons/self/info"]
    assert settings.http.panel_url == "homeassistant://hassio/ingress/local_homeflow"
    mqtt = settings.mqtt
    assert (mqtt.host, mqtt.port, mqtt.tls) == ("127.0.0.1", 1883, None)
    assert (mqtt.username, mqtt.password) == (USER.username, USER.password)
    assert settings.home_assistant.url == f"{supervisor.url}/core"
    assert settings.home_assistant.token == TOKEN
    assert settings.lights == {"desk": HomeAssistantLight("desk", "light.desk")}
    kitchen, bedroom = settings.speakers["kitchen"], settings.speakers["bedroom"]
    assert kitchen == HomeAssistantSpeaker(
        "kitchen",
        "media_player.kitchen",
        "tts.piper",
        language="en-GB",
        options={"voice": "en_GB-alba-medium"},
    )
    assert isinstance(bedroom, HomeAssistantSpeaker)
    assert (bedroom.tts, bedroom.volume) == ("tts.google_translate_en_com", 0.3)
    assert settings.buttons == {"Massage Button": Zigbee2MqttButton("Massage Button", "Massage Button")}
    assert settings.zigbee2mqtt.base_topic == "z2m"
    # The bundled routine, put into the add-on's config folder to be edited there; every routine gets
    # every light and speaker.
    for name in ("back-massage.yaml", "back-massage-de.yaml"):
        assert (tmp_path / "config/routines" / name).read_text() == (
            REPO / "homeflow/defaults/routines" / name
        ).read_text()
    assert settings.routines_dir == tmp_path / "config/routines"
    assert settings.automations == (
        Automation("back-massage", (ButtonTrigger("Massage Button"),), ("desk",), ("kitchen", "bedroom")),
        Automation("back-massage-de", (), ("desk",), ("kitchen", "bedroom")),
    )
    assert (settings.journal, settings.cache_dir) == (tmp_path / "data/homeflow.db", tmp_path / "data/cache")
    assert settings.time_zone == "Europe/Berlin"  # from the Supervisor's /info
    http = settings.http
    assert (http.bind, http.port, http.token, http.ingress_proxy) == (
        "0.0.0.0",
        8765,
        HTTP_TOKEN,
        INGRESS_PROXY,
    )
    assert settings.path == tmp_path / "data/options.json"
    assert list(private.iterdir()) == []  # the settings written, secrets and all, are gone


async def test_bare_options_and_a_broker_over_tls(tmp_path: Path) -> None:
    """What a fresh install holds: no devices; the time zone option wins over the system's; without an
    http_token no one knows the token (the dashboard answers through Ingress only)."""
    options = {"lights": [], "speakers": [], "buttons": [], "time_zone": "America/New_York"}
    service = broker_service(8883, ssl=True)
    del service["username"], service["password"]
    async with FakeSupervisor(mqtt=service).running() as supervisor:
        first = await addon_settings(addon(tmp_path, supervisor, options))
        second = await addon_settings(addon(tmp_path, supervisor, options))
    assert supervisor.requests == ["GET /services/mqtt", "GET /addons/self/info"] * 2
    assert (first.mqtt.port, first.mqtt.tls, first.mqtt.username, first.mqtt.password) == (
        8883,
        Tls(),
        None,
        None,
    )
    assert (first.lights, first.speakers, first.buttons) == ({}, {}, {})
    assert first.automations == (Automation("back-massage", ()), Automation("back-massage-de", ()))
    assert first.time_zone == "America/New_York"
    assert first.http.token and second.http.token and re.fullmatch(r"[0-9a-f]{32}", first.http.token)
    assert first.http.token != second.http.token


BAD_OPTIONS = [
    ({"lights": ["desk"]}, 'lights[0]: expected a light\'s entity id like light.desk_lamp, got "desk"'),
    ({"lights": ["light.desk", "light.desk"]}, 'lights[1]: "light.desk" is listed twice'),
    ({"lights": "light.desk"}, 'lights: expected a list, got "light.desk"'),
    ({"speakers": [{"media_player": "media_player.kitchen"}]},
     "speakers[0].tts: no TTS entity: set tts (e.g. tts.piper) here or for all speakers"),
    ({"tts": "piper", "speakers": [{"media_player": "media_player.kitchen"}]},
     'tts: expected a TTS entity id like tts.piper, got "piper"'),
    ({"tts": "tts.piper", "speakers": [{"media_player": "kitchen"}]},
     'speakers[0].media_player: expected an entity id like media_player.kitchen, got "kitchen"'),
    ({"tts": "tts.piper", "speakers": [{"media_player": "media_player.kitchen", "volume": 4}]},
     "speakers[0].volume: a volume goes from 0 to 1 (0.4 is 40 %), got 4"),
    ({"buttons": [{"zigbee2mqtt": "Button", "routine": "back-massge"}]},
     'buttons[0].routine: no routine "back-massge"; did you mean "back-massage"?'),
    ({"buttons": [{"zigbee2mqtt": "Button+"}]},
     'buttons[0].zigbee2mqtt: a friendly name cannot contain the MQTT wildcards + or #, got "Button+"'),
    ({"zigbee2mqtt_base_topic": "z2m/#"},
     'zigbee2mqtt_base_topic: a topic cannot contain the wildcards + or #, got "z2m/#"'),
    ({"time_zone": "Mars/Olympus"},
     'time_zone: unknown time zone "Mars/Olympus" (expected e.g. Europe/Berlin)'),
    ({"http_token": "short"},
     "http_token: too short (5 characters); use at least 16, e.g. `openssl rand -hex 16`"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "problem"), BAD_OPTIONS, ids=[p.partition(":")[0] for _, p in BAD_OPTIONS]
)
async def test_a_bad_option_is_one_line_naming_it(
    tmp_path: Path, options: dict[str, Any], problem: str
) -> None:
    async with FakeSupervisor(mqtt=broker_service()).running() as supervisor:
        with pytest.raises(OptionsError) as caught:
            await addon_settings(addon(tmp_path, supervisor, {"lights": [], "speakers": [], **options}))
    assert caught.value.lines == [f"add-on option {problem}"]


async def test_a_button_needs_its_routine_named_once_there_are_two(tmp_path: Path) -> None:
    (tmp_path / "config/routines").mkdir(parents=True)
    (tmp_path / "config/routines/short.yaml").write_text(SHORT_ROUTINE)
    (tmp_path / "config/routines/long.yaml").write_text(SHORT_ROUTINE)
    async with FakeSupervisor(mqtt=broker_service()).running() as supervisor:
        with pytest.raises(OptionsError) as caught:
            await addon_settings(addon(tmp_path, supervisor, {"buttons": [{"zigbee2mqtt": "Button"}]}))
    assert caught.value.lines == ["add-on option buttons[0].routine: say which routine this button starts "
                                  "(known: long, short)"]  # fmt: skip
    assert supervisor.requests == []  # the options are checked before anything is asked


async def test_what_the_supervisor_does_not_give_is_one_line(tmp_path: Path) -> None:
    async with FakeSupervisor(mqtt=None).running() as supervisor:
        with pytest.raises(AddonError) as no_broker:
            await addon_settings(addon(tmp_path, supervisor, {}))
        wrong = Addon("wrong-token", supervisor.url, tmp_path / "data", tmp_path / "config")
        with pytest.raises(AddonError) as refused:
            await addon_settings(wrong)
    gone = Addon(TOKEN, f"http://127.0.0.1:{free_port()}", tmp_path / "data", tmp_path / "config")
    with pytest.raises(AddonError) as unreachable:
        await addon_settings(gone)
    where = f"the Supervisor at {supervisor.url} (GET /services/mqtt)"
    assert no_broker.value.lines == [
        f"no MQTT broker from {where} (400: Service not enabled): "
        "install and start the Mosquitto broker add-on"
    ]
    assert refused.value.lines == [f"{where} refused SUPERVISOR_TOKEN (401: Unauthorized)"]
    [line] = unreachable.value.lines
    assert line.startswith(f"cannot reach the Supervisor at {gone.supervisor} (GET /services/mqtt): "), line
    with pytest.raises(OptionsError, match="no add-on options at"):
        await addon_settings(Addon(TOKEN, supervisor.url, tmp_path / "elsewhere", tmp_path / "config"))


def test_the_addon_is_only_what_no_settings_file_overrides() -> None:
    assert is_addon(None, {"SUPERVISOR_TOKEN": "t"})
    assert not is_addon(Path("homeflow.yaml"), {"SUPERVISOR_TOKEN": "t"})
    assert not is_addon(None, {"SUPERVISOR_TOKEN": "t", "HOMEFLOW_CONFIG": "homeflow.yaml"})
    assert not is_addon(None, {})


async def test_the_entry_starts_homeflow_which_connects_announces_and_serves_under_ingress(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto]
) -> None:
    """`homeflow run` with nothing but the add-on's environment, as run.sh starts it: the broker and
    its password from the Supervisor, lights and speech through the Supervisor's proxy to Home
    Assistant, the page under an Ingress prefix, the journal in the data folder."""
    mq = mosquitto(f"password_file {password_file(tmp_path, USER)}\n", anonymous=False)
    desk = {
        "state": "on",
        "attributes": {"brightness": 200, "color_mode": "color_temp", "color_temp_kelvin": 2700},
    }
    home = FakeHomeAssistant({"light.desk": desk}, players={"media_player.kitchen": {"state": "idle"}})
    (tmp_path / "config/routines").mkdir(parents=True)
    (tmp_path / "config/routines/short.yaml").write_text(SHORT_ROUTINE)
    options = {**OPTIONS, "speakers": [{"media_player": "media_player.kitchen"}], "buttons": []}
    del options["zigbee2mqtt_base_topic"]
    port, log = free_port(), tmp_path / "homeflow.log"
    login = {"username": USER.username, "password": USER.password}
    async with (
        FakeSupervisor(home, mqtt=broker_service(mq.port)).running() as supervisor,
        collecting(mq.broker, "watch", "homeflow/#", "homeassistant/#", **login) as watch,
    ):
        the_addon = addon(tmp_path, supervisor, options)
        environment = {key: value for key, value in os.environ.items() if not key.startswith("HOMEFLOW_")}
        environment |= {
            "PYTHONPATH": str(REPO),
            "SUPERVISOR_TOKEN": TOKEN,
            "HOMEFLOW_SUPERVISOR_URL": supervisor.url,
            "HOMEFLOW_ADDON_DATA": str(the_addon.data),
            "HOMEFLOW_ADDON_CONFIG": str(the_addon.config),
            "HOMEFLOW_HTTP_PORT": str(port),  # the add-on's port is 8765, which a test run cannot count on
            "HOMEFLOW_TIME_SCALE": "20",
        }
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeflow.cli", "run",
                env=environment, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=output,
            )  # fmt: skip
        try:
            await watch.wait_for("homeflow/status", lambda m: m.text == "online", within=WAIT_S)
            start = await watch.wait_for("homeassistant/button/homeflow/short_start/config")
            assert start.json["command_topic"] == "homeflow/short/home_assistant/set"
            # The device's "Visit" link opens the dashboard in Home Assistant's sidebar (Ingress).
            assert (
                start.json["device"]["configuration_url"] == "homeassistant://hassio/ingress/local_homeflow"
            )
            await through_ingress(f"http://127.0.0.1:{port}")
            await watch.wait_for(
                "homeflow/short/event", lambda m: m.json["event"] == "completed", within=WAIT_S
            )
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), WAIT_S)
    output = log.read_text()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "options.json is valid: MQTT 127.0.0.1:" in output, output
    services = [call.service for call in home.calls]
    assert services[0] == "light.turn_on" and "tts.speak" in services, services
    assert home.lights["light.desk"] == desk  # given back as it was
    assert set(home.tokens) == {f"Bearer {TOKEN}"}
    assert (tmp_path / "data/homeflow.db").is_file()


async def through_ingress(url: str) -> None:
    """The page as Home Assistant's Ingress asks for it: its URLs are relative and start at the prefix;
    the static file and an API call they name answer (with the token: this test is not the Ingress
    proxy's address, so it is a client like any other)."""
    ingress = {"X-Ingress-Path": "/api/hassio_ingress/abc"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/", headers=ingress) as response:
            page, policy = await response.text(), response.headers["Content-Security-Policy"]
        base = '<base href="/api/hassio_ingress/abc/">'
        assert base in page
        assert not re.search(r'(?:href|src)="/|fetch\("/|api\(["`]/', page.replace(base, "")), (
            "an absolute URL"
        )
        assert "frame-ancestors 'self'" in policy and "base-uri 'self'" in policy  # Home Assistant frames it
        for odd in ("", "/a/../b", '/x"><script>alert(1)</script>', "//elsewhere.example/x", "relative"):
            async with http.get(url + "/", headers={"X-Ingress-Path": odd}) as response:
                page, policy = await response.text(), response.headers["Content-Security-Policy"]
            assert "<base" not in page and "frame-ancestors 'none'" in policy, odd  # not a path prefix
        async with http.get(url + "/static/favicon.svg") as response:
            assert response.status == 200
        async with http.post(url + "/api/routines/short/start", headers=ingress) as response:
            assert response.status == 401
        bearer = {"Authorization": f"Bearer {HTTP_TOKEN}"}
        async with http.post(url + "/api/routines/short/start", headers=ingress | bearer) as response:
            assert (await response.json())["result"] == "started by web"


PREFIX = "/api/hassio_ingress/abc"


@contextlib.contextmanager
def addon_behind_ingress(tmp_path: Path, broker_port: int) -> Iterator[str]:
    """The add-on's homeflow (settings from a fake Supervisor) behind a fake Ingress proxy, served by an
    event loop in a thread of its own; yields the proxy's URL of the page. This test's proxy is on
    127.0.0.1, so homeflow is told that is the proxy's address (in the add-on: 172.30.32.2)."""
    (tmp_path / "config/routines").mkdir(parents=True)
    (tmp_path / "config/routines/stretch.yaml").write_text(STRETCH)
    started = threading.Event()
    place: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        place["stop"] = (asyncio.get_running_loop(), stop)
        service = broker_service(broker_port)
        async with FakeSupervisor(mqtt=service).running() as supervisor:
            settings = await addon_settings(addon(tmp_path, supervisor, {"lights": [], "speakers": []}))
            http = dataclasses.replace(settings.http, port=0, ingress_proxy="127.0.0.1")
            ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            serving = asyncio.create_task(
                serve(dataclasses.replace(settings, http=http), stop, time_scale=20, ready=ready)
            )
            await asyncio.wait((serving, ready), return_when=asyncio.FIRST_COMPLETED)
            if not serving.done():
                async with proxying(ready.result(), PREFIX, {"X-Ingress-Path": PREFIX}) as url:
                    place["url"] = url
                    started.set()
                    await stop.wait()
            await serving

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            place["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=run, name="addon", daemon=True)
    thread.start()
    try:
        assert started.wait(WAIT_S) and "error" not in place, place.get("error")
        yield place["url"] + PREFIX
    finally:
        if "stop" in place:
            loop, stop = place["stop"]
            loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT_S)
        assert not thread.is_alive() and "error" not in place, place.get("error")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium); .ci/run installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.mark.parametrize("slash", ["/", ""])
def test_the_page_works_in_a_browser_under_the_ingress_prefix(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], browser: Browser, slash: str
) -> None:
    """As Home Assistant's sidebar panel shows it: no token asked (Home Assistant has logged the user in),
    the routines listed, a run started, followed live over the event stream and cancelled, every
    request through the prefix; also when the URL lacks its last slash."""
    mq = mosquitto()
    with addon_behind_ingress(tmp_path, mq.port) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        outside: list[str] = []
        page.on(
            "request", lambda r: None if urlsplit(r.url).path.startswith(PREFIX) else outside.append(r.url)
        )
        page.set_default_timeout(5000)
        try:
            page.goto(url + slash)
            stretch = page.locator("article[data-routine=stretch]")
            expect(page.locator("#link")).to_have_text("live")
            expect(page.locator("#login")).to_be_hidden()
            stretch.get_by_role("button", name="Start").click()
            live = page.locator("#live-stretch")
            expect(live.locator(".step")).to_have_text("Warm up")
            expect(live.locator(".step")).to_have_text("Hold the stretch")  # pushed over the event stream
            live.get_by_role("button", name="Cancel").click()
            live.get_by_role("button", name="Really stop?").click()  # Cancel asks first
            expect(live).to_have_count(0)
            expect(page.locator("#history tbody tr").first.locator("td").nth(2)).to_have_text("cancelled")
        finally:
            page.close()
    assert errors == []
    assert outside == []
