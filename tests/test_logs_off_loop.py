"""Log lines are written off the event loop: a handler that blocks holds up no press and no cue."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeflow.journal import open_journal
from homeflow.logs import off_loop

from .harness import shipped_routine, write_settings
from .home import TIME_SCALE, home
from .mosquitto import Broker
from .process import start_homeflow

BLOCK_S = 1.0
PIPE_BYTES = 4096
ROOM_BYTES = 1024  # for what `homeflow run` prints before it serves (no speech engine here)
BODY = """\
lights: {room: {virtual: {}}}
speakers: {room: {local: {}}}
automations: [{routine: back-massage, lights: [room], speakers: [room]}]
"""


class Stuck(logging.Handler):
    """A terminal, pipe or journald that takes a second for each line, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.released.wait(BLOCK_S)
        self.lines.append(record.getMessage())


@pytest.fixture
def stuck() -> Iterator[Stuck]:
    logger = logging.getLogger("homeflow")
    handler = Stuck()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        with off_loop(logger):
            yield handler
            handler.released.set()  # the lines still queued are written at once
    finally:
        handler.released.set()
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_stuck_log_holds_up_neither_the_press_nor_the_cues(
    tmp_path: Path, broker: Broker, prefix: str, speech_cache: Path, stuck: Stuck
) -> None:
    async with home(tmp_path, broker, prefix, speech_cache) as h:
        pressed = time.time()
        await h.press()  # the button's own line and the run's first ones each hold the writer a second
        await h.watch.wait_for(h.topic("event"), lambda m: m.json["event"] == "completed", within=30)
        await h.watch.wait_for(h.topic("state"), lambda m: m.json["state"] == "idle")
        ended = time.time()

    assert h.light.times[0] - pressed < BLOCK_S / 2
    with open_journal(tmp_path / "journal.db") as journal:
        [run] = journal.runs()
        late = [cue["late_s"] / TIME_SCALE for cue in journal.cues(run.id)]  # in real seconds
    assert late and max(late) < BLOCK_S / 2, late
    # The writer was still a second behind per line while the whole run played.
    assert len(stuck.lines) < (ended - pressed) / BLOCK_S + 1


def test_every_line_logged_before_a_sigterm_is_written_in_order(
    tmp_path: Path, broker: Broker, prefix: str
) -> None:
    home = tmp_path / "home"
    write_settings(home, broker, prefix, BODY, {"back-massage": shipped_routine()})
    read, write = os.pipe()
    # A reader that has stopped reading: its pipe takes one page, and a line written on the event loop
    # would stop everything homeflow does until someone reads.
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    os.write(write, b"." * (PIPE_BYTES - ROOM_BYTES))
    homeflow = start_homeflow(home, broker.port, "", stderr_fd=write)
    os.close(write)
    try:
        homeflow.wait_healthy()
        homeflow.run_once("back-massage")
        homeflow.proc.send_signal(signal.SIGTERM)
        with os.fdopen(read, "rb") as pipe:
            written = pipe.read().decode()  # up to the end: homeflow has exited
        assert homeflow.proc.wait(timeout=20) == 0, written
    finally:
        homeflow.kill()

    lines = written.lstrip(".").splitlines()
    landmarks = ["homeflow ready", "back-massage: run 1 completed", "stopping"]
    at = [next(i for i, line in enumerate(lines) if mark in line) for mark in landmarks]
    assert at == sorted(at), written
    # Every line whole, in the order it was logged; the last is the service's own end.
    stamps = [line[:8] for line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert stamps == sorted(stamps), written
    assert lines[-1].endswith("homeflow.process: stopped"), written


def test_the_lines_logged_before_an_error_are_written_when_it_ends_the_block() -> None:
    logger = logging.getLogger("homeflow.test.error")
    slow = Stuck()
    logger.addHandler(slow)
    logger.propagate = False

    def fail() -> None:
        with off_loop(logger):
            for n in range(3):
                logger.warning("line %d", n)
            assert slow.lines == []  # still queued behind the writer
            raise RuntimeError("broken")

    try:
        with pytest.raises(RuntimeError, match="broken"):
            fail()
        assert slow.lines == ["line 0", "line 1", "line 2"]
        assert logger.handlers == [slow]
    finally:
        slow.released.set()
        logger.removeHandler(slow)
        logger.propagate = True
