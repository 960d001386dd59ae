"""The `journal` setting: a file path, a `postgresql://` URL, or a URL with its password from secrets;
located problems for a URL of the wrong form, never showing its password."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from homeflow.journal import Database
from homeflow.settings import SettingsError, load

from .mosquitto import free_port


def config(folder: Path, text: str) -> Path:
    path = folder / "homeflow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(path)
    return [str(problem) for problem in caught.value.problems]


def test_a_path_stays_a_sqlite_file(tmp_path: Path) -> None:
    assert load(config(tmp_path, "{}\n")).journal == tmp_path / "homeflow.db"
    assert load(config(tmp_path, "journal: data/runs.db\n")).journal == tmp_path / "data/runs.db"


def test_a_postgresql_url_names_a_database(tmp_path: Path) -> None:
    url = "postgresql://homeflow:pw@127.0.0.1:5432/homeflow?sslmode=disable"
    journal = load(config(tmp_path, f"journal: {url}\n")).journal
    assert journal == Database(url)
    assert str(journal) == "postgresql://homeflow@127.0.0.1:5432/homeflow?sslmode=disable"
    assert "pw" not in repr(journal)


def test_the_password_can_come_from_secrets(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("journal_password: s3cret-pw\n")
    path = config(
        tmp_path,
        """\
        journal:
          url: postgres://homeflow@db.local/homeflow
          password: !secret journal_password
        """,
    )
    journal = load(path).journal
    assert journal == Database("postgres://homeflow@db.local/homeflow", "s3cret-pw")
    assert "s3cret" not in repr(journal)


def test_a_url_of_the_wrong_form_is_located_without_its_password(tmp_path: Path) -> None:
    folder: dict[int, Path] = {}
    cases = {
        "journal: mysql://homeflow:s3cret-pw@127.0.0.1/homeflow\n": "journal: expected a file path or"
        ' postgresql://USER@HOST[:PORT]/DATABASE, got "mysql://homeflow@127.0.0.1/homeflow"',
        "journal: postgresql://homeflow:s3cret-pw@127.0.0.1:99999/homeflow\n": "journal: not a URL (Port out"
        " of range 0-65535); expected postgresql://USER@HOST[:PORT]/DATABASE",
        "journal: postgresql://homeflow@127.0.0.1:5432\n": "journal: needs a database name: postgresql://"
        'USER@HOST[:PORT]/DATABASE, got "postgresql://homeflow@127.0.0.1:5432"',
        "journal: postgresql:///homeflow\n": "journal: needs a host: postgresql://USER@HOST[:PORT]/DATABASE,"
        ' got "postgresql:///homeflow"',
        "journal: {url: 'postgresql://h:s3cret-pw@db/homeflow', password: !secret pw}\n": "journal.url: the"
        " password is given twice; keep it in journal.password (use !secret)",
        "journal: {password: !secret pw}\n": "journal.url: required",
    }
    for number, (text, expected) in enumerate(cases.items()):
        folder[number] = tmp_path / str(number)
        folder[number].mkdir()
        (folder[number] / "secrets.yaml").write_text("pw: s3cret-pw\n")
        found = problems(config(folder[number], text))
        assert len(found) == 1, found
        [line] = found
        assert "s3cret" not in line
        file, row, column, message = line.split(":", 3)
        assert (file, row) == (str(folder[number] / "homeflow.yaml"), "1"), line
        assert column.isdigit(), line
        assert message.strip().startswith(expected.split(": ", 1)[0]), line
        assert expected.split(": ", 1)[1] in message, line


def test_check_and_history_say_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    path = config(tmp_path, f"journal: postgresql://homeflow:s3cret-pw@127.0.0.1:{port}/homeflow\n")
    check = subprocess.run(
        [sys.executable, "-m", "homeflow.cli", "check", "-c", str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    history = subprocess.run(
        [sys.executable, "-m", "homeflow.cli", "history", "-c", str(path)], capture_output=True, text=True
    )
    assert (history.returncode, history.stdout) == (1, "")
    assert history.stderr == (
        f"homeflow: cannot reach journal postgresql://homeflow@127.0.0.1:{port}/homeflow: "
        "connection refused; is PostgreSQL running?\n"
    )
