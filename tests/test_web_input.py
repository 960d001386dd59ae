"""Bad input over HTTP is a 400 with a one-line reason, never a 500; a client that never finishes its
request is cut off. Against the whole service on loopback, with real Mosquitto."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from homeflow.web import api, server

from .conftest import Broker
from .web import Service, running

# The service's own bounds, lowered so each test takes a second.
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Service]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server, "HEADER_TIMEOUT_S", HEADER_TIMEOUT_S, raising=False)
        patch.setattr(api, "BODY_TIMEOUT_S", BODY_TIMEOUT_S, raising=False)
        with running(tmp_path_factory.mktemp("input"), broker, "input") as the_service:
            yield the_service


def one_line_400(service: Service, method: str, path: str, body: bytes | None = None) -> str:
    reply = service.request(method, path, body)
    assert reply.status == 400, (reply.status, reply.body[:300])
    error = reply.json()
    assert error["status"] == 400 and "\n" not in error["error"] and len(error["error"]) < 200, error
    return str(error["error"])


@pytest.mark.parametrize(
    "limit", ["%C2%B2", "%D9%A3", "%EF%BC%91", "1e3", "-1", "0", "1001", "", "99999999999999999999"]
)
def test_a_limit_that_is_not_plain_digits_in_range_is_400(service: Service, limit: str) -> None:
    # "²" is a digit to str.isdigit() but not to int(); "٣" and "１" are digits int() takes: all refused.
    reason = one_line_400(service, "GET", f"/api/runs?limit={limit}")
    assert reason.startswith("limit must be a whole number from 1 to 1000")


def test_plain_limits_still_work(service: Service) -> None:
    for limit in ("1", "50", "1000"):
        assert service.request("GET", f"/api/runs?limit={limit}").status == 200


BODIES = {
    "4000 open brackets": b"[" * 4000,
    "2000 nested lists": b"[" * 2000 + b"]" * 2000,
    "not UTF-8": b"\xff\xfe",
    "infinite force": b'{"force": 1e999999}',
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_body_nested_too_deeply_or_garbled_is_400(service: Service, name: str) -> None:
    body = BODIES[name]
    assert len(body) < 4096  # under the size limit: the parser itself must not fail
    reason = one_line_400(service, "POST", "/api/routines/stretch/start", body)
    assert reason.startswith(("body is not valid JSON", "body is nested too deeply", "force must be")), reason


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_body_with_nan_or_infinity_is_not_json(service: Service, number: str) -> None:
    # Python's parser takes them; JSON has no such numbers, and no client of homeflow sends them.
    body = f'{{"force": {number}}}'.encode()
    reason = one_line_400(service, "POST", "/api/routines/stretch/start", body)
    assert reason == f"body is not valid JSON: {number} is not a JSON number"


def test_a_request_whose_headers_never_end_is_cut_off(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as client:
        started = time.monotonic()
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ":
            client.sendall(bytes([byte]))
            time.sleep(0.01)
        client.settimeout(HEADER_TIMEOUT_S + 5)
        try:
            while client.recv(1024):  # an error response, if any, then the close
                pass
        except ConnectionResetError:
            pass
        waited = time.monotonic() - started
    assert waited < HEADER_TIMEOUT_S + 2, f"the connection stayed open {waited:.1f} s"


def test_an_idle_connection_is_closed_but_a_request_in_time_is_answered(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as client:
        client.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert client.recv(1024).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        client.settimeout(HEADER_TIMEOUT_S + 5)
        while client.recv(1024):
            pass
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 2


def test_a_body_that_never_arrives_is_408(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as client:
        client.sendall(
            b"POST /api/routines/stretch/start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {service.token}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{"
        )
        started = time.monotonic()
        client.settimeout(BODY_TIMEOUT_S + 5)
        reply = client.recv(4096)
        assert time.monotonic() - started < BODY_TIMEOUT_S + 2
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b'"status": 408' in reply
