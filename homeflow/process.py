"""What `homeflow run` does to its own process around the service: signals, how it waits for its child
processes, what the garbage collector need not walk, and where a phone reaches the dashboard."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys

from homeflow.service import serve
from homeflow.settings.model import HttpSettings, Settings
from homeflow.web.reach import reach_text, reachable_from_others

log = logging.getLogger(__name__)


async def serve_process(settings: Settings, time_scale: float) -> None:
    """Serve until SIGINT or SIGTERM; SIGUSR1 logs where every task waits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    watch_children_by_pidfd(loop)
    ready: asyncio.Future[str] = loop.create_future()
    ready.add_done_callback(freeze_start_up)
    ready.add_done_callback(lambda done: print_address(settings.http, done))
    await serve(settings, stop, time_scale=time_scale, ready=ready)
    log.info("stopped")  # the last line: whoever reads the log sees the stop was clean


def print_address(http: HttpSettings, ready: asyncio.Future[str]) -> None:
    """Once serving: where a phone opens the dashboard, a one-time pairing link and its QR code (when
    other machines can reach it); on loopback with a token, a pairing link for this machine's browser."""
    if ready.cancelled() or ready.exception() is not None or http.ingress_proxy is not None:
        return  # not serving; or the add-on, whose page Home Assistant shows
    if reachable_from_others(http):
        print(reach_text(http, ready.result()), end="", flush=True)
    elif http.token:
        print(reach_text(http, ready.result(), qr=False), end="", flush=True)


def dump_tasks() -> None:
    """SIGUSR1: write where every task is waiting to the log, for a service that seems stuck."""
    for task in asyncio.all_tasks():
        frames = task.get_stack()
        stack = "".join(f"\n    {f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in frames)
        log.warning("task %s:%s", task.get_name(), stack)


def watch_children_by_pidfd(loop: asyncio.AbstractEventLoop) -> None:
    """Python 3.11's asyncio waits for each child process (a local speaker's player, which lives as
    long as homeflow) in a thread of its own: with a pidfd on the event loop it takes none. Python
    3.12 does so by itself; a kernel or sandbox without pidfds keeps the threads."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(loop)
    asyncio.set_child_watcher(watcher)


def freeze_start_up(_ready: object) -> None:
    """What start-up built (settings, routines, rooms, connections) lives as long as the process: frozen,
    the garbage collector's full passes no longer walk it. Each such pass took tens of milliseconds
    with a thousand rooms, and every cue due meanwhile waited."""
    gc.freeze()
