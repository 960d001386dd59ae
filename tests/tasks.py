"""Ending a helper task of a test for sure."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait for its end, asking again if the request was lost: Python 3.11's
    `asyncio.wait_for` (under every acknowledged aiomqtt publish) drops a cancellation that arrives
    just as what it waits for completes, and a simulated lamp answering a command would then serve on,
    its test waiting for it forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=0.1)
