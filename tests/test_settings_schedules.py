"""Schedule triggers and the time zone in homeflow.yaml."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from homeflow.settings import SettingsError, load
from homeflow.settings.model import ButtonTrigger, ScheduleTrigger

ROUTINE = "name: Short\nsteps:\n  - title: Only\n    do: [{say: Hello.}]\n"


def config(tmp_path: Path, when: str, extra: str = "") -> Path:
    (tmp_path / "routines").mkdir(exist_ok=True)
    (tmp_path / "routines" / "short.yaml").write_text(ROUTINE)
    path = tmp_path / "homeflow.yaml"
    path.write_text(
        textwrap.dedent(extra)
        + "buttons: {b: {zigbee2mqtt: B}}\nautomations:\n  - routine: short\n    when:\n"
        + textwrap.indent(textwrap.dedent(when), "      ")
    )
    return path


def test_at_with_days_and_cron(tmp_path: Path) -> None:
    settings = load(
        config(
            tmp_path,
            """\
            - at: "07:30"
              days: [mon, tue, wed, thu, fri]
            - at: "18:15"
              announce: Time for your back routine. Press the button when you are at the wall.
              skip_if_done_today: false
            - cron: "0 9 * * 6,0"
            - button: b
            """,
            "time_zone: Europe/Berlin\n",
        )
    )
    assert settings.time_zone == "Europe/Berlin"
    assert settings.automations[0].when == (
        ScheduleTrigger("30 7 * * 1,2,3,4,5"),
        ScheduleTrigger(
            "15 18 * * *", "Time for your back routine. Press the button when you are at the wall.", False
        ),
        ScheduleTrigger("0 9 * * 6,0"),
        ButtonTrigger("b"),
    )


def test_schedule_mistakes_are_located(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        """\
        - at: "25:00"
        - at: "07:30"
          days: [mon, fryday]
        - cron: "61 7 * * *"
        - at: "07:30"
          cron: "0 7 * * *"
        """,
        "time_zone: Mars/Olympus\n",
    )
    with pytest.raises(SettingsError) as caught:
        load(path)
    lines = [str(p) for p in caught.value.problems]
    name = str(path)
    assert lines == [
        f'{name}:1:12: time_zone: unknown time zone "Mars/Olympus" (expected e.g. Europe/Berlin)',
        f'{name}:6:13: automations[0].when[0].at: expected a time like "07:30", got "25:00"',
        f'{name}:8:21: automations[0].when[1].days: unknown day "fryday"; did you mean "fri"? '
        "(use sun, mon, tue, wed, thu, fri, sat)",
        f'{name}:9:15: automations[0].when[2].cron: not a cron expression (Bad minute): "61 7 * * *"',
        f"{name}:10:9: automations[0].when[3]: a schedule needs either `at` (with optional `days`) or `cron`",
    ]


def test_a_cron_not_of_five_fields_is_refused_where_it_is_written(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        """\
        - cron: "*/5 * * * * *"
        - cron: "0 0 7 * * *"
        - cron: "0 7 * *"
        - cron: "* * * * *"
        """,
    )
    with pytest.raises(SettingsError) as caught:
        load(path)
    name = str(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{name}:5:15: automations[0].when[0].cron: expected 5 fields (minute hour day month weekday), "
        'got 6 (six are read as seconds first: more than once a minute): "*/5 * * * * *"',
        f"{name}:6:15: automations[0].when[1].cron: expected 5 fields (minute hour day month weekday), "
        'got 6 (six are read as seconds first: more than once a minute): "0 0 7 * * *"',
        f"{name}:7:15: automations[0].when[2].cron: expected 5 fields (minute hour day month weekday), "
        'got 4: "0 7 * *"',
    ]  # once a minute ("* * * * *") is a schedule cron can write
    checked = subprocess.run(
        [sys.executable, "-m", "homeflow.cli", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 2
    assert f"{name}:5:15: automations[0].when[0].cron: expected 5 fields" in checked.stderr
    assert "Traceback" not in checked.stderr
