"""Where `homeflow run`'s log lines are written: by a thread of their own, never on the event loop."""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Iterator
from logging.handlers import QueueHandler, QueueListener


@contextlib.contextmanager
def off_loop(logger: logging.Logger | None = None) -> Iterator[None]:
    """Put a queue in front of `logger`'s handlers (the root's by default) until the block ends, then
    write every line still queued, in order. A slow terminal, pipe or journald then delays the writing
    thread, never a cue or a press; each handler keeps its own level."""
    target = logger or logging.getLogger()
    handlers = list(target.handlers)
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(lines, *handlers, respect_handler_level=True)
    front = QueueHandler(lines)
    for handler in handlers:
        target.removeHandler(handler)
    target.addHandler(front)
    listener.start()
    try:
        yield
    finally:
        target.removeHandler(front)
        listener.stop()  # writes what is queued before it returns
        for handler in handlers:
            target.addHandler(handler)
