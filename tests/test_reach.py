"""Reaching the page from a phone: `homeflow run` listening beyond loopback prints the address, a
one-time pairing link and its QR code, and the printed link signs a browser in over real HTTP;
`homeflow pair` prints a new one; on loopback nothing is shown to scan."""

from __future__ import annotations

import http.client
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import segno

from homeflow.settings.model import HttpSettings
from homeflow.web.pairing import COOKIE
from homeflow.web.reach import QR_BORDER, dashboard_address

from .harness import SHORT_ROUTINE, write_settings
from .mosquitto import Broker, free_port
from .web import TOKEN

HOMEFLOW = (sys.executable, "-m", "homeflow.cli")
# Each half-block character is two modules, top and bottom: True is dark.
HALVES = {" ": (True, True), "▀": (False, True), "▄": (True, False), "█": (False, False)}


def modules(lines: list[str]) -> list[list[bool]]:
    """The QR code's modules, read back from its half-block characters."""
    rows: list[list[bool]] = []
    for line in lines:
        pairs = [HALVES[char] for char in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    return rows


def encoded(text: str) -> list[list[bool]]:
    """The modules of `text`'s QR code, with its quiet zone, as segno encodes it (an odd height is
    padded with a row of the terminal's background, which reads as dark)."""
    code = segno.make(text, error="m", boost_error=False)
    rows = [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=QR_BORDER)]
    return rows + ([[True] * len(rows[0])] if len(rows) % 2 else [])


def read_lines(proc: subprocess.Popen[str], count: int, within: float = 30.0) -> list[str]:
    """The next `count` lines `proc` prints, failing (not hanging) if they do not come in time."""
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout

    def reading() -> None:
        for _ in range(count):
            lines.put(stdout.readline())

    threading.Thread(target=reading, daemon=True).start()
    deadline = time.monotonic() + within
    read = []
    for _ in range(count):
        try:
            read.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"homeflow printed only {read} within {within} s") from None
    return read


def get(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_homeflow_run_off_loopback_prints_a_pairing_link_and_its_qr_code(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    port = free_port()
    # Every address, so homeflow counts as reachable; the printed address is the loopback one given
    # as `public_url`, which is all this test may use.
    http = {"bind": "0.0.0.0", "port": port, "token": TOKEN, "public_url": f"http://127.0.0.1:{port}"}
    config = write_settings(tmp_path, broker, prefix, routines={"short": SHORT_ROUTINE}, http=http)
    with (tmp_path / "stderr").open("w") as errors:
        proc = subprocess.Popen(
            [*HOMEFLOW, "run", "-c", str(config)], stdout=subprocess.PIPE, stderr=errors, text=True
        )
    try:
        printed = read_lines(proc, 3)
        assert printed[0] == f"the dashboard: http://127.0.0.1:{port}/\n", (tmp_path / "stderr").read_text()
        link = printed[1].removeprefix("sign a phone or browser in: open ").strip()
        assert link.startswith(f"http://127.0.0.1:{port}/pair/")
        assert printed[2] == "(once, within 10 minutes; `homeflow pair` prints a new link)\n"
        qr = [line.rstrip("\n") for line in read_lines(proc, len(encoded(link)) // 2)]
        assert modules(qr) == encoded(link)  # the QR code holds the link, no more, no less

        path = link.removeprefix(f"http://127.0.0.1:{port}")
        paired = get(port, path)
        assert paired.status == 303
        session = paired.headers["Set-Cookie"].split(";")[0].removeprefix(f"{COOKIE}=")
        assert get(port, "/api/routines", session).status == 200
        assert get(port, "/api/routines").status == 401
        assert get(port, path).status == 403  # once only

        again = subprocess.run(
            [*HOMEFLOW, "pair", "-c", str(config)], capture_output=True, text=True, timeout=30
        )
        assert again.returncode == 0, again.stderr
        fresh = again.stdout.splitlines()[1].removeprefix("sign a phone or browser in: open ").strip()
        assert fresh != link and get(port, fresh.removeprefix(f"http://127.0.0.1:{port}")).status == 303
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_on_loopback_nothing_is_shown_to_scan(tmp_path: Path, broker: Broker, prefix: str) -> None:
    port = free_port()
    config = write_settings(tmp_path, broker, prefix, routines={"short": SHORT_ROUTINE}, http={"port": port})
    proc = subprocess.Popen(
        [*HOMEFLOW, "run", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while get_status(port) != 200:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert out == ""  # no token, loopback only: the log says where the page is, nothing to pair


def get_status(port: int) -> int | None:
    try:
        return get(port, "/api/health").status
    except OSError:
        return None


def test_the_address_a_phone_opens() -> None:
    assert dashboard_address(HttpSettings("192.168.1.20", 8765)) == "http://192.168.1.20:8765"
    assert (
        dashboard_address(HttpSettings("fd00::20", 0), "http://[fd00::20]:41234") == "http://[fd00::20]:41234"
    )
    public = HttpSettings("0.0.0.0", 8765, public_url="http://home.lan:8765/homeflow/")
    assert dashboard_address(public) == "http://home.lan:8765/homeflow"


def test_on_loopback_with_a_token_the_link_signs_this_machines_browser_in(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    port = free_port()
    http = {"port": port, "token": TOKEN}
    config = write_settings(tmp_path, broker, prefix, routines={"short": SHORT_ROUTINE}, http=http)
    proc = subprocess.Popen(
        [*HOMEFLOW, "run", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        printed = read_lines(proc, 3)
        link = printed[1].removeprefix("sign a phone or browser in: open ").strip()
        assert printed[0] == f"the dashboard: http://127.0.0.1:{port}/\n"
        assert get(port, link.removeprefix(f"http://127.0.0.1:{port}")).status == 303
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    assert rest == ""  # no QR code: nothing on the network could open it
