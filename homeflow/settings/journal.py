"""`journal`: a SQLite file (a path), or a PostgreSQL database (a `postgresql://` URL, or a mapping of
`url` and `password`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from homeflow.settings.checks import Checker
from homeflow.settings.model import Database
from homeflow.settings.problems import quote
from homeflow.settings.sections import resolve
from homeflow.settings.yamlnodes import Map, Node

FORM = "postgresql://USER@HOST[:PORT]/DATABASE"
SCHEMES = ("postgresql", "postgres")
_KEYS = ("url", "password")


def parse_journal(ch: Checker, node: Node | None, base: Path) -> Path | Database:
    if isinstance(node, Map):
        f = ch.fields(node, "journal", _KEYS, required=("url",))
        url = _url(ch, f.get("url"), "journal.url", given_password="password" in f)
        password = ch.text(f.get("password"), "journal.password")
        if url is None:
            return resolve(base, "homeflow.db")
        return Database(url, password)
    text = ch.text(node, "journal", "homeflow.db")
    if "://" not in text:
        return resolve(base, text)
    url = _url(ch, node, "journal", given_password=False)
    return Database(url) if url is not None else resolve(base, "homeflow.db")


def _url(ch: Checker, node: Node | None, path: str, *, given_password: bool) -> str | None:
    """A PostgreSQL URL of the form libpq takes; problems never show its password."""
    text = ch.text(node, path)
    if node is None or text is None:
        return None
    try:
        shown = quote(Database(text).public)
        url = urlsplit(text)
        port = url.port
        query = parse_qsl(url.query, strict_parsing=True) if url.query else []
    except ValueError as error:
        ch.report(node, path, f"not a URL ({error}); expected {FORM}")
        return None
    name = url.path.removeprefix("/")
    if url.scheme not in SCHEMES:
        ch.report(node, path, f"expected a file path or {FORM}, got {shown}")
    elif not url.hostname:
        ch.report(node, path, f"needs a host: {FORM}, got {shown}")
    elif port == 0:
        ch.report(node, path, f"port must be from 1 to 65535: {FORM}, got {shown}")
    elif not name or "/" in name:
        ch.report(node, path, f"needs a database name: {FORM}, got {shown}")
    elif url.fragment:
        ch.report(node, path, f"must not have a #fragment, got {shown}")
    elif any(key == "password" for key, _ in query) or (given_password and url.password is not None):
        ch.report(node, path, "the password is given twice; keep it in journal.password (use !secret)")
    elif importlib.util.find_spec("psycopg") is None:
        ch.report(node, path, "a PostgreSQL journal needs psycopg: pip install 'homeflow[postgres]'")
    else:
        return text
    return None
