"""Three `homeflow run` processes, one Mosquitto, one PostgreSQL, a simulated Zigbee2MQTT lamp per room,
routines going in 10 rooms; the owner of a running routine is killed with SIGKILL at random moments
and started again. Each time, another instance goes on with each of its runs within 5 s ("Continuing
with: …"); at the end every lamp is as it was before, and the journal holds one completion per run,
no run left running, no cue after its run's end, and no two runs of one routine at once.

With `on_takeover: interrupt` each of those runs is closed as interrupted and its lamp given back.

Twenty kills (five for `interrupt`), about 75 + 25 s on a 2-core machine; `pytest --takeover-kills N`
does N. The cluster, the kills and the take-over times are tests/takeovers.py's, which bench/takeover.py
measures with too."""

from __future__ import annotations

import itertools
import random
import statistics
from pathlib import Path

import pytest

from .mosquitto import Broker
from .postgres import Postgres
from .takeovers import BEFORE, ROOMS, cluster

KILLS = 20
INTERRUPT_KILLS = 5  # with `on_takeover: interrupt`
LEASE_S = 1  # the shortest lease homeflow takes: renewed every 0.2 s
TAKEOVER_WITHIN_S = 5.0


@pytest.mark.parametrize("on_takeover", ["resume", "interrupt"])
async def test_the_owner_of_running_routines_killed_again_and_again_another_instance_goes_on(  # noqa: PLR0917
    tmp_path: Path,
    broker: Broker,
    prefix: str,
    postgres: Postgres,
    request: pytest.FixtureRequest,
    on_takeover: str,
) -> None:
    resume = on_takeover == "resume"
    kills = request.config.getoption("--takeover-kills") or (KILLS if resume else INTERRUPT_KILLS)
    database = postgres.database()
    async with cluster(tmp_path, broker, prefix, database, on_takeover=on_takeover, lease_s=LEASE_S) as homes:
        done = await homes.kill_again_and_again(kills, random.Random(16), within=TAKEOVER_WITHIN_S + 5)
        # Every run goes to its end.
        codes = await homes.finish()
        journal, watch, base = homes.journal, homes.watch, homes.base
        runs = journal.rows("SELECT id, routine, status, started_at, ended_at FROM runs ORDER BY id")
        late = journal.rows(
            "SELECT c.run_id, c.idx FROM cues c JOIN runs r ON r.id = c.run_id WHERE c.at > r.ended_at"
        )
        said = [p["text"] for room in ROOMS for p in watch.payloads(f"{base}/{room}/say")]
        resumes = [m for m in watch.messages if m.topic.endswith("/event") and m.json["event"] == "resumed"]
    instances, lamp = homes.instances, homes.lamps
    took = [kill.took for kill in done]

    print(
        f"\n{kills} kills, {len(runs)} runs: take-over p50 {statistics.median(took):.2f} s,"
        f" max {max(took):.2f} s (lease {LEASE_S} s, on_takeover: {on_takeover})"
    )
    assert max(took) < TAKEOVER_WITHIN_S, took
    assert codes == [0, 0, 0], [instance.log.read_text()[-2000:] for instance in instances.values()]
    for name, instance in instances.items():
        assert "Traceback" not in instance.log.read_text(), name
    # Every lamp as it was before.
    for room, light in lamp.items():
        assert {k: light.state[k] for k in BEFORE} == BEFORE, (room, light.commands[-3:])
    # One end per run: each a completion (or, closed at a take-over, interrupted); none left running;
    # no cue after its run's end.
    ends = [status for _, _, status, _, _ in runs]
    if resume:
        assert ends == ["completed"] * len(runs)
    else:
        assert set(ends) <= {"completed", "interrupted"} and ends.count("interrupted") >= kills
    assert all(ended is not None for *_, ended in runs)
    assert late == []
    # No two runs of one routine at once (two owners would have started one each).
    for room in ROOMS:
        spans = sorted((started, ended) for _, routine, _, started, ended in runs if routine == room)
        for (_, ended), (started, _) in itertools.pairwise(spans):
            assert ended <= started, room
    assert len(runs) >= len(ROOMS)
    # Each take-over said where it goes on, at a step of the routine.
    continuing = [text for text in said if text.startswith("Continuing with: ")]
    if not resume:
        assert continuing == resumes == []
        return
    assert len(continuing) == len(resumes) >= kills // 2, (len(continuing), len(resumes))
    steps = {"begin", "up and down, left side", "rest", "close"}
    assert {text.removeprefix("Continuing with: ").rstrip(".") for text in continuing} <= steps
