"""Speaker settings of every kind, quiet hours, a journal from before speaker failures, missing extras."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homeflow.cli import device_problems
from homeflow.devices.speakers.clips import volume_now
from homeflow.journal import RunStatus, open_journal
from homeflow.journal.sqlite import SCHEMA_VERSION
from homeflow.settings import SettingsError, load
from homeflow.settings.model import CastSpeaker, HomeAssistantSpeaker, QuietHours, SonosSpeaker

from .conftest import REPO

SPEAKERS = """\
time_zone: Europe/Berlin
home_assistant: {url: "http://127.0.0.1:8123", token: abc}
speakers:
  kitchen:
    home_assistant:
      media_player: media_player.kitchen
      tts: tts.piper
      announce: false
      volume: 0.4
      options: {voice: en_US-joe-medium}
  living:
    sonos: {host: 192.168.1.30, volume: 0.35, quiet_hours: {from: "21:00", to: "07:00", volume: 0.15}}
  bedroom:
    cast: {host: 192.168.1.31, voice: en-gb, rate: 140, lead_in: 0.3}
"""


def test_each_kind_of_speaker_is_read(tmp_path: Path) -> None:
    (tmp_path / "homeflow.yaml").write_text(SPEAKERS)
    speakers = load(tmp_path / "homeflow.yaml").speakers
    assert speakers["kitchen"] == HomeAssistantSpeaker(
        "kitchen",
        "media_player.kitchen",
        "tts.piper",
        announce=False,
        options={"voice": "en_US-joe-medium"},
        volume=0.4,
    )
    assert speakers["living"] == SonosSpeaker(
        "living", "192.168.1.30", volume=0.35, quiet_hours=QuietHours(time(21), time(7), 0.15)
    )
    assert speakers["bedroom"] == CastSpeaker(
        "bedroom", "192.168.1.31", voice="en-gb", rate_wpm=140, lead_in_s=0.3
    )


def test_speaker_mistakes_are_located(tmp_path: Path) -> None:
    (tmp_path / "homeflow.yaml").write_text(
        "speakers:\n"
        "  a: {sonos: {volume: 0.2}}\n"
        "  b: {cast: {host: 'not a host', port: 70000}}\n"
        "  c: {sonos: {host: 10.0.0.2, quiet_hours: {from: '07:00', to: '07:00', volume: 0.1}}}\n"
        "  d: {airplay: {host: 10.0.0.3}}\n"
    )
    with pytest.raises(SettingsError) as caught:
        load(tmp_path / "homeflow.yaml")
    assert [str(p).split("homeflow.yaml:", 1)[1] for p in caught.value.problems] == [
        "2:14: speakers.a.sonos.host: missing (required)",
        '3:20: speakers.b.cast.host: expected an IP address or host name like 192.168.1.30, got "not a host"',
        "3:40: speakers.b.cast.port: must be between 1 and 65535, got 70000",
        "4:44: speakers.c.sonos.quiet_hours: from and to are the same time: the window would be empty",
        '5:7: speakers.d.airplay: unknown speaker protocol "airplay"; known: "local", "home_assistant", '
        '"sonos", "cast"',
    ]


@pytest.mark.parametrize(
    ("clock", "in_berlin", "in_utc"),
    [
        ("20:59", 0.35, 0.35),
        ("21:00", 0.15, 0.35),  # 20:00 UTC
        ("23:59", 0.15, 0.15),
        ("00:00", 0.15, 0.15),
        ("06:59", 0.15, 0.15),
        ("07:00", 0.35, 0.15),  # 06:00 UTC
        ("08:00", 0.35, 0.35),
    ],
)
def test_quiet_hours_run_over_midnight_in_the_settings_time_zone(
    clock: str, in_berlin: float, in_utc: float
) -> None:
    speaker = SonosSpeaker("living", "10.0.0.2", volume=0.35, quiet_hours=QuietHours(time(21), time(7), 0.15))
    hour, minute = map(int, clock.split(":"))
    moment = datetime(2026, 1, 15, hour, minute, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    assert volume_now(speaker, ZoneInfo("Europe/Berlin"), moment) == in_berlin
    assert volume_now(speaker, UTC, moment) == in_utc


def test_a_window_within_one_day() -> None:
    lunch = QuietHours(time(12), time(14), 0.1)
    assert [lunch.covers(time(h)) for h in (11, 12, 13, 14)] == [False, True, True, False]


def test_a_journal_from_before_speaker_failures_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, routine TEXT NOT NULL, trigger TEXT NOT NULL,"
        " started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL DEFAULT 'running',"
        " reps INTEGER NOT NULL, planned_s REAL NOT NULL, light_snapshot TEXT NOT NULL DEFAULT '{}',"
        " feedback TEXT);"
        "CREATE TABLE cues (run_id INTEGER NOT NULL REFERENCES runs (id), idx INTEGER NOT NULL,"
        " kind TEXT NOT NULL, step INTEGER NOT NULL, text TEXT, planned_at REAL NOT NULL,"
        " late_s REAL NOT NULL, at TEXT NOT NULL, PRIMARY KEY (run_id, idx));"
        "INSERT INTO runs (routine, trigger, started_at, ended_at, status, reps, planned_s) VALUES"
        " ('a', 'mqtt', '2026-01-01T08:00:00+00:00', '2026-01-01T08:10:00+00:00', 'completed', 5, 600);"
        "PRAGMA user_version=1;"
    )
    old.close()
    with open_journal(path) as journal:
        [run] = journal.runs()
        assert (run.routine, run.status, run.profile) == ("a", RunStatus.COMPLETED, None)
        journal.record_speaker_failure(run.id, 3, "kitchen", "Sonos at 10.0.0.2: cannot connect")
        assert journal.speaker_failures(run.id) == [
            {
                "index": 3,
                "speaker": "kitchen",
                "error": "Sonos at 10.0.0.2: cannot connect",
                "at": journal.speaker_failures(run.id)[0]["at"],
            }
        ]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8


def test_check_names_the_extra_a_speaker_needs(tmp_path: Path) -> None:
    (tmp_path / "homeflow.yaml").write_text(
        "speakers: {living: {sonos: {host: 10.0.0.2}}, tv: {cast: {host: 10.0.0.3}}}\n"
    )
    # `None` in sys.modules is how Python marks a module as not importable: as if the extra were absent.
    hide = (
        "import sys; sys.modules['soco'] = sys.modules['pychromecast'] = None; from homeflow.cli import main;"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"{hide} sys.exit(main(['check', '-c', 'homeflow.yaml']))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "homeflow.yaml: speakers: a sonos speaker needs soco and lameenc: pip install 'homeflow[sonos]'",
        "homeflow.yaml: speakers: "
        "a cast speaker needs pychromecast and lameenc: pip install 'homeflow[cast]'",
    ]


def test_speakers_that_fetch_clips_need_an_address_they_can_reach(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("http_token: 0123456789abcdef0123\n")
    (tmp_path / "homeflow.yaml").write_text(
        "http: {bind: 0.0.0.0, token: !secret http_token}\nspeakers: {living: {sonos: {host: 10.0.0.2}}}\n"
    )
    settings = load(tmp_path / "homeflow.yaml")
    assert device_problems(settings) == [
        f"{settings.path}: http.public_url: speaker living fetches clips from homeflow: "
        "set http.public_url to this machine's address, e.g. http://192.168.1.20:8765"
    ]
    (tmp_path / "homeflow.yaml").write_text(
        "http: {bind: 0.0.0.0, token: !secret http_token, public_url: 'http://192.168.1.20:8765'}\n"
        "speakers: {living: {sonos: {host: 10.0.0.2}}}\n"
    )
    assert device_problems(load(tmp_path / "homeflow.yaml")) == []
