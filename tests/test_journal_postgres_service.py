"""homeflow on a PostgreSQL journal, end to end: a real `homeflow run` through a real Mosquitto, a run
started and completed, and `homeflow history` showing it from the database."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .harness import shipped_routine, write_settings
from .mosquitto import Broker
from .postgres import Postgres
from .process import HOMEFLOW, start_homeflow

BODY = """\
lights: {room: {virtual: {}}}
speakers: {room: {local: {}}}
automations: [{routine: back-massage, lights: [room], speakers: [room]}]
"""


def test_a_run_on_a_postgresql_journal_is_kept_and_shown_by_history(
    tmp_path: Path, broker: Broker, prefix: str, postgres: Postgres
) -> None:
    home = tmp_path / "home"
    database = postgres.database()
    config = write_settings(home, broker, prefix, BODY, {"back-massage": shipped_routine()})
    # The password comes from secrets.yaml (the test cluster trusts loopback, so any password does).
    settings = config.read_text().replace(
        'journal: "journal.db"', f"journal: {{url: {database.url}, password: !secret journal_password}}"
    )
    assert settings != config.read_text()
    config.write_text(settings)
    (home / "secrets.yaml").write_text("journal_password: s3cret-pw\n")

    homeflow = start_homeflow(home, broker.port, "")  # no espeak-ng on PATH: the steps are printed
    try:
        homeflow.wait_healthy()
        homeflow.run_once("back-massage")
        assert homeflow.terminate() == 0, homeflow.log()
    finally:
        homeflow.kill()
    assert "s3cret" not in homeflow.log()
    assert not (home / "journal.db").exists()

    history = subprocess.run(
        [*HOMEFLOW, "history", "--json"],
        cwd=home,
        env={**os.environ, "HOMEFLOW_CONFIG": str(config)},
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(history.stdout)
    [run] = shown["runs"]
    assert (run["routine"], run["status"], run["trigger"]) == ("back-massage", "completed", "web")
    assert run["cues"] > 10
    assert shown["routines"]["back-massage"]["completed_today"] == 1
    assert postgres.sql(database, "SELECT count(*) FROM runs WHERE status = 'completed'") == "1"
