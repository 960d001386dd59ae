"""The live view's state over the event stream: the sentence being said, the count, the step's span
(which moves with a pause and a skip), and what comes next."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from .mosquitto import Broker
from .web import Events, Service, running

TIME_SCALE = 20
# At a time scale of 20: "Ready" lasts about a second, each number of the count one, "Rest" two.
COUNTING = """\
name: Circles
reps: {start: 3, max: 6, step: 3, good_sessions_to_progress: 2}
steps:
  - title: Ready
    do:
      - wait: {seconds: 20, say: Stand tall.}
  - title: Circles
    do:
      - count: {say: "Make {reps} circles.", to: "{reps}", tempo: 20}
  - title: Rest
    do:
      - wait: {seconds: 40, say: Rest now.}
"""
# "Stand tall." is said in 1.2 s by estimate (two words), then 20 s of waiting, in routine seconds.
READY_S = (1.2 + 20) / TIME_SCALE


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("live")
    with running(folder, broker, "live", routines={"circles": COUNTING}, time_scale=TIME_SCALE) as it:
        yield it


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def left(event: dict[str, Any]) -> float:
    """The step's time left as the page counts it: to its end from now, or from the pause."""
    state = event["state"]
    return at(state["step_ends_at"]) - at(state.get("paused_at") or event["now"])


def test_the_live_state_has_the_sentence_the_count_the_step_time_and_what_comes_next(
    service: Service,
) -> None:
    events = Events(service)
    try:
        assert service.request("POST", "/api/routines/circles/start").status == 200
        ready = events.until(lambda e: e["state"].get("spoken", {}).get("text") == "Stand tall.")
        state = ready["state"]
        assert (state["state"], state["step"], state["step_index"], state["steps"]) == (
            "running",
            "Ready",
            0,
            3,
        )
        assert state["next_step"] == "Circles"
        assert state["spoken"] == {"text": "Stand tall."}
        span = at(state["step_ends_at"]) - at(state["step_started_at"])
        assert span == pytest.approx(READY_S, abs=0.01)

        # The count keeps the sentence that introduced it; each number comes as it is said.
        first = events.until(lambda e: e["state"].get("spoken", {}).get("count") == 1)
        assert first["state"]["spoken"] == {"text": "Make 3 circles.", "count": 1, "of": 3}
        assert (first["state"]["step"], first["state"]["next_step"]) == ("Circles", "Rest")
        events.until(lambda e: e["state"].get("spoken", {}).get("count") == 2)

        # Paused, the time left stands still; resumed, it goes on from where it stood.
        assert service.request("POST", "/api/routines/circles/pause").status == 200
        paused = events.until(lambda e: e["state"]["state"] == "paused")
        assert "paused_at" in paused["state"]
        assert paused["state"]["spoken"]["count"] == 2  # still shown while paused
        time.sleep(1.0)
        listed = service.request("GET", "/api/routines").json()["routines"][0]
        assert left({"state": listed["state"], "now": listed["state"]["paused_at"]}) == pytest.approx(
            left(paused), abs=0.01
        )
        assert service.request("POST", "/api/routines/circles/resume").status == 200
        resumed = events.until(lambda e: e["state"]["state"] == "running")
        assert "paused_at" not in resumed["state"]
        assert left(resumed) == pytest.approx(left(paused), abs=0.15)

        # A skip starts the next step now: its span begins at the skip.
        assert service.request("POST", "/api/routines/circles/skip").status == 200
        rest = events.until(lambda e: e["state"]["step"] == "Rest")
        assert at(rest["state"]["step_started_at"]) == pytest.approx(at(rest["now"]), abs=0.15)
        assert rest["state"]["next_step"] is None
        said = events.until(lambda e: e["state"].get("spoken", {}).get("text") == "Rest now.")
        assert "count" not in said["state"]["spoken"]

        assert service.request("POST", "/api/routines/circles/cancel").status == 200
        idle = events.until(lambda e: e["state"]["state"] == "idle")
        assert "spoken" not in idle["state"]
    finally:
        events.close()


def test_the_stats_say_how_far_good_runs_have_come_towards_the_next_level(service: Service) -> None:
    stats = service.request("GET", "/api/routines").json()["routines"][0]["stats"]
    assert stats["towards"] == {"good": 0, "needed": 2, "reps": 6}
