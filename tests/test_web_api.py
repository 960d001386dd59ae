"""The JSON API over real HTTP on loopback: the service with real Mosquitto and a real SQLite journal."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from homeflow.journal import RunStatus, open_journal
from homeflow.language import ENGLISH
from homeflow.routine.guidance import SHOWN_ADVICE, stop_rules
from homeflow.routine.plan import Conditions, build_plan, estimate_speech_s
from homeflow.routine.progression import Feedback
from homeflow.settings import load

from .harness import write_settings
from .mosquitto import Broker
from .web import TOKEN, Events, Service, running

COMMANDS = ("start", "pause", "resume", "skip", "cancel", "good", "too_much", "hurt")
PROTECTED = [("POST", f"/api/routines/stretch/{c}") for c in COMMANDS] + [
    ("GET", "/api/routines"),
    ("GET", "/api/routines/stretch/plan"),
    ("GET", "/api/runs"),
    ("GET", "/api/events"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[Service]:
    with running(tmp_path_factory.mktemp("api"), broker, "api") as the_service:
        yield the_service


def test_health_needs_no_token(service: Service) -> None:
    reply = service.request("GET", "/api/health", token=None)
    assert (reply.status, reply.json()) == (200, {"status": "ok", "mqtt": True, "token": True})


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_api_call_but_health_needs_the_token(service: Service, method: str, path: str) -> None:
    for token, reason in ((None, "missing"), ("wrong-token-0123456789", "wrong"), (TOKEN + "x", "wrong")):
        reply = service.request(method, path, token=token)
        assert reply.status == 401
        assert reply.json() == {
            "error": f"{reason} token: send Authorization: Bearer <http.token>",
            "status": 401,
        }
        assert reply.headers["www-authenticate"] == 'Bearer realm="homeflow"'
    basic = service.request(method, path, token=None, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status == 401
    assert service.request("GET", "/api/routines").json()["routines"][1]["state"]["state"] == "idle"


def test_routines_with_state_and_stats(service: Service) -> None:
    listed = service.request("GET", "/api/routines").json()
    assert [(r["id"], r["name"]) for r in listed["routines"]] == [
        ("back-massage", "Back massage"),
        ("stretch", "Neck stretch"),
    ]
    stretch = listed["routines"][1]
    assert stretch["description"] == "A short routine for the web tests."
    assert stretch["safety"] == [] and listed["routines"][0]["safety"][0].startswith("Before you begin")
    assert stretch["state"] == {"state": "idle", "step": None, "step_index": None}
    assert stretch["stats"]["reps_level"] == 3
    assert {"last_completed", "streak_days", "completed_today", "reps_reason"} <= set(stretch["stats"])
    assert listed["now"].endswith("+00:00")


def test_plan_is_the_one_the_next_run_would_follow(service: Service) -> None:
    routine = load(service.config).routines["back-massage"]
    reply = service.request("GET", "/api/routines/back-massage/plan").json()
    # No speakers here: the service times sentences by estimate, exactly as `build_plan` does; the
    # safety introduction (never heard yet) before the first step, the first run's own sentences and the
    # question after the end are part of the plan; without a button in the room, the question says
    # where to answer instead.
    assert routine.feedback is not None
    first = Conditions(first_run=True)
    question = f"{routine.feedback.question} {ENGLISH.answer_elsewhere}"
    expected = build_plan(routine, 5, estimate_speech_s, question=question, safety=True, conditions=first)
    assert reply == {**expected.to_json(), "reps_reason": "starting level"}
    assert reply["safety"] == list(routine.safety) and reply["safety_owed"] is True
    assert [c["text"] for c in reply["cues"] if c["kind"] == "safety"] == list(routine.safety)
    assert reply["cues"][-1]["kind"] == "ask"
    assert reply["steps"][0] == "Get ready"
    assert reply["total_s"] > 200


def test_commands_steer_a_run_and_events_follow_it(service: Service) -> None:
    events = Events(service)
    try:
        first = [events.next(), events.next()]
        assert {(e["routine"], e["state"]["state"]) for e in first if e} == {
            ("back-massage", "idle"),
            ("stretch", "idle"),
        }

        def post(command: str) -> str:
            reply = service.request("POST", f"/api/routines/stretch/{command}")
            assert reply.status == 200, reply.body
            body = reply.json()
            assert (body["routine"], body["command"]) == ("stretch", command)
            return str(body["result"])

        assert post("start") == "started by web"
        running = events.until(lambda e: e["routine"] == "stretch" and e["state"]["state"] == "running")
        assert running["state"]["step"] == "Warm up"
        assert (running["state"]["trigger"], running["state"]["reps"], running["state"]["steps"]) == (
            "web",
            3,
            3,
        )
        assert post("start") == "already running"
        assert post("pause") == "pause"
        events.until(lambda e: e["state"]["state"] == "paused")
        assert post("pause") == "pause: nothing to do"
        assert post("resume") == "resume"
        events.until(lambda e: e["state"]["state"] == "running")
        assert post("skip") == "skip"
        events.until(lambda e: e["state"]["step"] == "Hold the stretch")
        assert post("cancel") == "cancel"
        events.until(lambda e: e["routine"] == "stretch" and e["state"]["state"] == "idle")
        assert post("cancel") == "cancel: not running"
        assert post("good") == "late feedback: no completed run to answer"  # a cancelled run is no answer's
    finally:
        events.close()
    [run] = service.request("GET", "/api/runs?routine=stretch").json()["runs"]
    assert (run["routine"], run["status"], run["trigger"], run["reps"]) == ("stretch", "cancelled", "web", 3)
    assert service.request("GET", "/api/runs?routine=back-massage").json() == {"runs": []}
    assert service.request("GET", "/api/runs?limit=1").json()["runs"][0]["id"] == run["id"]


class Mistake(NamedTuple):
    method: str
    path: str
    body: bytes | None
    status: int
    error: str | None


NOT_JSON = (
    "body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
)
LIMIT = "limit must be a whole number from 1 to 1000,"
MISTAKES = [
    Mistake("GET", "/api/routines/nope/plan", None, 404, "unknown routine 'nope'"),
    Mistake("POST", "/api/routines/nope/start", None, 404, "unknown routine 'nope'"),
    Mistake("POST", "/api/routines/stretch/explode", None, 404,
            "unknown command 'explode'; use one of start, pause, resume, skip, cancel, good, too_much, hurt, "
            "safety"),
    Mistake("GET", "/api/runs?routine=nope", None, 404, "unknown routine 'nope'"),
    Mistake("GET", "/api/nothing-here", None, 404, "no such resource: /api/nothing-here"),
    Mistake("GET", "/api/routines/stretch/start", None, 405, "GET is not allowed here; use POST"),
    Mistake("DELETE", "/api/routines", None, 405, "DELETE is not allowed here; use GET, HEAD"),
    Mistake("POST", "/api/health", b"{}", 405, "POST is not allowed here; use GET, HEAD"),
    Mistake("POST", "/api/routines/stretch/start", b"x" * 5000, 413, "request body larger than 4096 bytes"),
    Mistake("POST", "/api/routines/stretch/start", b"{not json", 400, NOT_JSON),
    Mistake("POST", "/api/routines/stretch/start", b"[1, 2]", 400, "body must be a JSON object, got list"),
    Mistake("POST", "/api/routines/stretch/start", b'{"reps": 9}', 400,
            "unknown option(s): reps; this command takes force, profile"),
    Mistake("POST", "/api/routines/stretch/start", b'{"profile": "anna"}', 400,
            "unknown profile 'anna' of stretch; its profiles: none"),
    Mistake("POST", "/api/routines/stretch/start", b'{"profile": 7}', 400,
            "unknown profile '7' of stretch; its profiles: none"),
    Mistake("GET", "/api/routines/stretch/plan?profile=anna", None, 400,
            "unknown profile 'anna' of stretch; its profiles: none"),
    Mistake("POST", "/api/routines/stretch/pause", b'{"force": true}', 400,
            "unknown option(s): force; this command takes none"),
    Mistake("POST", "/api/routines/stretch/start", b'{"force": 1}', 400,
            "force must be true or false, got 1"),
    Mistake("POST", "/api/routines/stretch/start", b"\xff\xfe{", 400, None),
    Mistake("GET", "/api/runs?limit=0", None, 400, f"{LIMIT} got '0'"),
    Mistake("GET", "/api/runs?limit=ten", None, 400, f"{LIMIT} got 'ten'"),
]  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.status}-{m.method}-{m.path}")
def test_mistakes_get_a_json_error_never_a_500(service: Service, mistake: Mistake) -> None:
    method, path, body, status, error = mistake
    reply = service.request(method, path, body, headers={"Content-Type": "application/json"})
    assert reply.status == status
    assert reply.json()["status"] == status
    if error is not None:
        assert reply.json()["error"] == error
    if status == 405:
        assert reply.headers["allow"]
    # Not one refused command may have started the routine.
    assert service.request("GET", "/api/routines").json()["routines"][1]["state"]["state"] == "idle"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../pyproject.toml",
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/static/%2e%2e%2fapp.py",
        "/static/%2e%2e/%2e%2e/settings/http.py",
        "/static/..\\app.py",
        "/static/.hidden",
        "/static/%2Fetc%2Fpasswd",
        "/static//etc/passwd",
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/static/index.html%00.png",
    ],
)
def test_static_files_never_leave_their_folder(service: Service, path: str) -> None:
    reply = service.request("GET", path)
    assert reply.status in (400, 404), (reply.status, reply.body[:200])
    assert reply.json()["status"] == reply.status
    assert b"[build-system]" not in reply.body
    assert b"root:" not in reply.body
    assert b"import" not in reply.body


def test_dashboard_and_its_icon_are_served_with_a_strict_policy(service: Service) -> None:
    page = service.request("GET", "/", token=None)
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy  # the page's own script file, and no inline script
    assert "default-src 'none'" in policy
    assert b"<title>homeflow</title>" in page.body
    # Self-contained: nothing is fetched from another host (the SVG namespace is a name, not a fetch).
    assert not re.search(rb"(src|href)=[\"']?(https?:)?//|@import|url\(", page.body)
    # Relative, so the page also works below a path prefix (Home Assistant's Ingress).
    assert re.findall(rb"(?:src|href)=\"([^\"]*)\"", page.body) == [b"static/favicon.svg", b"static/app.js"]
    assert b"<script>" not in page.body
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
    icon = service.request("GET", "/static/favicon.svg", token=None)
    assert (icon.status, icon.headers["content-type"]) == (200, "image/svg+xml")
    script = service.request("GET", "/static/app.js", token=None)
    assert script.status == 200
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    # Its URLs are relative too, and name no other host.
    assert not re.search(rb"""(?:fetch|api)\(\s*[`"']/|https?://(?!www\.w3\.org/2000/svg)""", script.body)


def test_without_a_token_only_loopback_names_and_same_origin_commands(tmp_path: Path, broker: Broker) -> None:
    with running(tmp_path, broker, "open", token=None) as open_service:
        assert open_service.request("GET", "/api/health").json()["token"] is False  # the page asks none
        assert open_service.request("GET", "/api/routines").status == 200
        rebound = open_service.request("GET", "/api/routines", headers={"Host": "evil.example:8765"})
        assert rebound.status == 403
        assert rebound.json()["error"] == "host 'evil.example' is not allowed without http.token"
        forged = open_service.request(
            "POST", "/api/routines/stretch/pause", headers={"Origin": "http://evil.example"}
        )
        assert forged.status == 403
        assert forged.json()["error"] == "cross-origin request from http://evil.example refused"
        same = open_service.request(
            "POST", "/api/routines/stretch/pause", headers={"Origin": open_service.url}
        )
        assert (same.status, same.json()["result"]) == (200, "pause: not running")


def test_shutdown_ends_open_event_streams_cleanly(tmp_path: Path, broker: Broker) -> None:
    with running(tmp_path, broker, "shutdown") as the_service:
        events = Events(the_service)
        assert events.next() is not None
        the_service.stop()
        # A clean end of the chunked stream, not a connection cut when the shutdown timeout ran out.
        while events.next() is not None:
            pass
        events.close()


def test_a_port_in_use_is_one_line_without_traceback(tmp_path: Path, broker: Broker) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_settings(tmp_path, broker, "port-test", http={"port": port})
        result = subprocess.run(
            [sys.executable, "-m", "homeflow.cli", "run", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"homeflow: cannot serve the dashboard on 127.0.0.1:{port}: address already in use; "
        "another program (another homeflow?) listens there: stop it or change http.port"
    )


def test_force_starts_beyond_the_daily_limit(tmp_path: Path, broker: Broker) -> None:
    def two_done_today(journal_path: Path) -> None:
        with open_journal(journal_path) as journal:
            for _ in range(2):
                journal.finish_run(
                    journal.start_run("back-massage", "button:b", 5, 250.0, {}), RunStatus.COMPLETED
                )

    with running(tmp_path, broker, "force", history=two_done_today) as service:
        refused = service.request("POST", "/api/routines/back-massage/start")
        assert refused.json()["result"].startswith("not started: You have done the back massage twice today.")
        forced = service.request("POST", "/api/routines/back-massage/start", b'{"force": true}')
        assert forced.json()["result"] == "started by web"
        service.request("POST", "/api/routines/back-massage/cancel")


def test_a_late_answer_over_the_api_counts_once(tmp_path: Path, broker: Broker) -> None:
    def one_done(journal_path: Path) -> None:
        with open_journal(journal_path) as journal:
            for reps in (5, 10):
                run = journal.start_run("back-massage", "button:b", reps, 250.0, {})
                journal.finish_run(run, RunStatus.COMPLETED)
            journal.set_feedback(1, Feedback.GOOD)

    with running(tmp_path, broker, "late", history=one_done) as service:

        def post(command: str) -> str:
            return str(service.request("POST", f"/api/routines/back-massage/{command}").json()["result"])

        assert post("hurt") == "late feedback hurt for run 2: next run 3 repetitions"  # the gentler run
        assert post("good") == "late feedback: run 2 was answered already (hurt)"
        [massage] = [
            r for r in service.request("GET", "/api/routines").json()["routines"] if r["id"] == "back-massage"
        ]
        stops = stop_rules(load(service.config).routines["back-massage"])
        assert (massage["stats"]["reps_level"], massage["stats"]["advice"]) == (3, f"{SHOWN_ADVICE} {stops}")
        runs = service.request("GET", "/api/runs?routine=back-massage").json()["runs"]
        assert [run["feedback"] for run in runs] == ["hurt", "good"]
