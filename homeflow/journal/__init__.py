"""The journal: every run, the cues it carried out, and the lights to give back; in a SQLite file (the
default) or in PostgreSQL (`journal: postgresql://…`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from homeflow.journal.base import Journal, JournalError, Person, RunRecord, RunStatus, streak, utcnow
from homeflow.journal.sqlite import SqliteJournal
from homeflow.settings.model import Database

__all__ = [
    "Database",
    "Journal",
    "JournalError",
    "Person",
    "RunRecord",
    "RunStatus",
    "SqliteJournal",
    "open_journal",
    "read_journal",
    "streak",
    "utcnow",
]


def open_journal(where: Path | Database, now: Callable[[], datetime] = utcnow) -> Journal:
    """The journal the `journal` setting names: a SQLite file, or a PostgreSQL database."""
    if isinstance(where, Database):
        try:
            from homeflow.journal.postgres import PostgresJournal  # noqa: PLC0415 (an optional extra)
        except ImportError:
            raise JournalError(f"journal {where} needs psycopg: pip install 'homeflow[postgres]'") from None
        return PostgresJournal(where, now)
    return SqliteJournal(where, now)


def read_journal(where: Path | Database) -> Journal:
    """The journal to read from (`homeflow history`, `homeflow plan`): a SQLite file that does not exist
    yet reads as an empty journal, and is not created (nor its folder)."""
    if isinstance(where, Path) and not where.exists():
        return SqliteJournal(Path(_EMPTY))
    return open_journal(where)


_EMPTY = ":memory:"  # SQLite's name for a database of its own, in memory, gone when closed
