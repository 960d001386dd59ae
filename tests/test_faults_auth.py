"""MQTT with a password file and with TLS (a CA made here): homeflow works, and wrong credentials give
one clear line per try and a growing pause, never a crash."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from homeflow.service import serve
from homeflow.settings import load

from .faults import WAIT_S, Credentials, make_certificates, password_file, wait_until
from .harness import SHORT_ROUTINE, collecting, serving, write_settings
from .mosquitto import Broker, Mosquitto

USER = Credentials("homeflow", "correct horse battery staple")


async def run_short_routine(config: Path, broker: Broker, prefix: str, **client: Any) -> list[str]:
    """Start the short routine and wait until it completes, watching as a client with `client`'s
    credentials; the events it published."""
    base = f"{prefix}/hf"
    async with (
        collecting(broker, f"{prefix}-watch", f"{base}/#", **client) as watch,
        serving(config, watch, base),
    ):
        await watch.client.publish(f"{base}/short/set", "start", qos=1)
        await watch.wait_for(f"{base}/short/event", lambda m: m.json["event"] == "completed")
    return [m.json["event"] for m in watch.on(f"{base}/short/event")]


def login(credentials: Credentials) -> dict[str, str]:
    return {"username": credentials.username, "password": credentials.password}


async def test_a_broker_with_a_password_file(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], prefix: str
) -> None:
    mq = mosquitto(f"password_file {password_file(tmp_path, USER)}\n", anonymous=False)
    config = write_settings(tmp_path, mq.broker, prefix, routines={"short": SHORT_ROUTINE}, mqtt=login(USER))
    assert await run_short_routine(config, mq.broker, prefix, **login(USER)) == ["started", "completed"]
    with pytest.raises(aiomqtt.MqttError):  # the broker does check: no way in without them
        async with aiomqtt.Client(mq.broker.host, mq.broker.port):
            pass


async def test_a_broker_over_tls_with_a_ca_of_its_own(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], prefix: str
) -> None:
    certs = make_certificates(tmp_path)
    mq = mosquitto(
        f"password_file {password_file(tmp_path, USER)}\n"
        f"cafile {certs.ca}\ncertfile {certs.cert}\nkeyfile {certs.key}\n",
        anonymous=False,
        tls_port=True,
    )
    assert mq.tls_port is not None
    tls_broker = Broker("127.0.0.1", mq.tls_port)
    config = write_settings(
        tmp_path,
        tls_broker,
        prefix,
        routines={"short": SHORT_ROUTINE},
        mqtt={**login(USER), "tls": {"ca_file": str(certs.ca)}},
    )
    tls = aiomqtt.TLSParameters(ca_certs=str(certs.ca))
    assert await run_short_routine(config, tls_broker, prefix, **login(USER), tls_params=tls) == [
        "started",
        "completed",
    ]


async def test_wrong_credentials_give_one_clear_line_and_a_growing_pause(
    tmp_path: Path, mosquitto: Callable[..., Mosquitto], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    mq = mosquitto(f"password_file {password_file(tmp_path, USER)}\n", anonymous=False)
    wrong = Credentials(USER.username, "wrong")
    config = write_settings(tmp_path, mq.broker, prefix, routines={"short": SHORT_ROUTINE}, mqtt=login(wrong))
    caplog.set_level(logging.INFO, logger="homeflow")

    def lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "homeflow.mqtt"]

    stop = asyncio.Event()
    service = asyncio.create_task(serve(load(config), stop))
    try:
        await wait_until(lambda: len(lines()) >= 2 or service.done(), "two tries")
        assert not service.done(), "the service ended"
    finally:
        stop.set()
        await asyncio.wait_for(service, WAIT_S)
    first, second = lines()[:2]
    where = f"127.0.0.1:{mq.port}"
    for record, pause in ((first, 1), (second, 2)):
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert record.getMessage() == (
            f"MQTT broker {where} refused homeflow: not authorized; check mqtt.username and "
            f"mqtt.password (retrying in {pause} s)"
        )
