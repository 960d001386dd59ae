"""Actions for some runs only (`when:`): a person's first run, and the gentler run after "it hurt" at
fewer repetitions (`reps.gentle`), as the plan of each shows them."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from homeflow.journal import RunStatus, open_journal
from homeflow.routine.model import Ambience, Light, Reps, Routine, Say, Step, Wait, When
from homeflow.routine.plan import Conditions, CueKind, build_plan
from homeflow.routine.progression import Feedback, advance, first_level, next_level
from homeflow.takeover import ambience_at

from .conftest import REPO
from .test_cli import homeflow
from .test_settings import problems, write

ROUTINES = REPO / "homeflow" / "defaults" / "routines"
BALLS = {
    "back-massage": "A tennis ball, a lacrosse ball, a golf ball",
    "back-massage-de": "Ein Tennisball, ein Golfball, ein Baseball",
}
# What the person is told to press harder with, or to change to: never said on the gentler run.
HARDER = {"back-massage": ("deeper", "firmer"), "back-massage-de": ("tiefer", "festeren")}

CONDITIONAL = Routine(
    id="conditional",
    name="Conditional",
    reps=Reps(start=4, max=8, step=4),
    steps=(
        Step(
            "Only",
            (
                Say("Always."),
                Say("Which ball.", (When.FIRST_RUN,)),
                Say("Softly today.", (When.GENTLE,)),
                Say("Go deeper.", (When.NOT_GENTLE,)),
                Wait(5, "Rest.", (When.GENTLE,)),
            ),
        ),
    ),
)


def said(routine: Routine, conditions: Conditions) -> list[str]:
    plan = build_plan(routine, 4, lambda _text: 1.0, conditions=conditions)
    assert plan.conditions == conditions
    return [c.text or "" for c in plan.cues if c.kind is CueKind.SAY]


def test_a_plan_leaves_out_the_actions_whose_when_does_not_hold() -> None:
    assert said(CONDITIONAL, Conditions()) == ["Always.", "Go deeper."]
    assert said(CONDITIONAL, Conditions(first_run=True)) == ["Always.", "Which ball.", "Go deeper."]
    assert said(CONDITIONAL, Conditions(gentle=True)) == ["Always.", "Softly today.", "Rest."]
    assert build_plan(CONDITIONAL, 4, lambda _text: 1.0, conditions=Conditions(gentle=True)).total_s == 8


def test_a_run_taken_over_goes_on_in_the_light_of_its_own_conditions() -> None:
    dimmer = Ambience(10, 2.0)
    routine = dataclasses.replace(
        CONDITIONAL,
        steps=(Step("Dim", (Light(dimmer, (When.GENTLE,)), Say("Begin."))), Step("Go on", (Say("More."),))),
    )
    assert ambience_at(routine, 4, 1, Conditions(gentle=True)) == dimmer
    assert ambience_at(routine, 4, 1) == routine.ambience


def test_the_gentler_run_after_it_hurt_has_fewer_repetitions_then_the_start_again() -> None:
    assert [Reps(start=n, max=10).gentle_reps for n in (1, 2, 5, 10)] == [1, 1, 3, 5]
    reps = Reps(start=5, max=10, gentle=2)
    hurt = next_level(reps, [Feedback.GOOD, Feedback.GOOD, Feedback.HURT])
    assert (hurt.reps, hurt.gentle, hurt.reason) == (2, True, "the last run hurt: gently, at 2 instead of 5")
    assert advance(reps, hurt, None) == hurt  # no answer: still the gentler run
    after = advance(reps, hurt, Feedback.GOOD)
    assert (after.reps, after.gentle) == (5, False)
    assert advance(reps, first_level(reps), Feedback.HURT).reps == 2


def test_a_bad_when_and_a_bad_reps_gentle_are_located(here: Path) -> None:
    write(
        here,
        "routines/r.yaml",
        """\
        name: R
        reps: {start: 4, gentle: 5}
        steps:
          - title: One
            do:
              - say: Hello.
                when: sometimes
              - when: first_run
        """,
    )
    assert problems(write(here, "homeflow.yaml", "")) == [
        "routines/r.yaml:2:26: reps.gentle: must be between 1 and reps.start (4), got 5",
        'routines/r.yaml:7:15: steps[0].do[0].when: unknown condition "sometimes"; known: "first_run", '
        '"gentle", "not_gentle", "at_max_reps", "below_max_reps"',
        "routines/r.yaml:8:9: steps[0].do[1]: expected one action key (say, wait, count, light, repeat) "
        "beside when",
    ]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def planned(folder: Path, routine_id: str, *more: str) -> dict[str, Any]:
    """`homeflow plan --json` of the next run, as a person runs it."""
    result = homeflow("plan", routine_id, "-c", "homeflow.yaml", "--json", *more, cwd=folder)
    assert result.returncode == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def spoken(plan: dict[str, Any]) -> str:
    return " ".join(c["text"] for c in plan["cues"] if c["kind"] in ("say", "safety", "count"))


def record(folder: Path, routine_id: str, answer: Feedback | None) -> None:
    with open_journal(folder / "j.db") as journal:
        run = journal.start_run(routine_id, "button:massage", 5, 250.0, {})
        journal.finish_run(run, RunStatus.COMPLETED)
        journal.set_feedback(run, answer)


@pytest.mark.parametrize("routine_id", ["back-massage", "back-massage-de"])
def test_plan_of_the_first_run_the_next_and_the_gentle_one_after_it_hurt(
    tmp_path: Path, routine_id: str
) -> None:
    (tmp_path / "routines").mkdir()
    shutil.copy(ROUTINES / f"{routine_id}.yaml", tmp_path / "routines")
    (tmp_path / "homeflow.yaml").write_text("journal: j.db\n")
    start = 5  # reps.start of both bundled routines

    first = planned(tmp_path, routine_id)
    assert (first["reps"], first["first_run"], first["gentle"]) == (start, True, False)
    assert BALLS[routine_id] in spoken(first)
    assert all(word in spoken(first) for word in HARDER[routine_id])

    record(tmp_path, routine_id, Feedback.TOO_MUCH)  # completed once: no longer the first run
    second = planned(tmp_path, routine_id)
    assert (second["reps"], second["first_run"], second["gentle"]) == (start, False, False)
    assert BALLS[routine_id] not in spoken(second)
    assert HARDER[routine_id][0] in spoken(second)  # "lean in more to go deeper" on every normal run
    assert second["total_s"] < first["total_s"]

    record(tmp_path, routine_id, Feedback.HURT)
    gentle = planned(tmp_path, routine_id)
    assert gentle["gentle"] is True
    assert isinstance(gentle["reps"], int) and gentle["reps"] < start
    counted = [c["text"] for c in gentle["cues"] if c["kind"] == "count"]
    assert len(counted) == 6 * gentle["reps"]  # three counts on each side, of the gentler reps each
    assert not any(word in spoken(gentle).lower() for word in HARDER[routine_id])


def test_plan_of_a_named_profile_and_of_an_unknown_one(tmp_path: Path) -> None:
    (tmp_path / "routines").mkdir()
    shutil.copy(ROUTINES / "back-massage.yaml", tmp_path / "routines")
    (tmp_path / "homeflow.yaml").write_text(
        "journal: j.db\nautomations:\n  - {routine: back-massage, profiles: {anna: {}, ben: {}}}\n"
    )
    with open_journal(tmp_path / "j.db") as journal:
        run = journal.start_run("back-massage", "web", 5, 250.0, {}, profile="anna")
        journal.finish_run(run, RunStatus.COMPLETED)
        journal.set_feedback(run, Feedback.HURT)
    anna = planned(tmp_path, "back-massage")
    assert (anna["profile"], anna["first_run"], anna["gentle"], anna["reps"]) == ("anna", False, True, 3)
    ben = planned(tmp_path, "back-massage", "--profile", "ben")
    assert (ben["profile"], ben["first_run"], ben["gentle"], ben["reps"]) == ("ben", True, False, 5)
    assert BALLS["back-massage"] in spoken(ben) and BALLS["back-massage"] not in spoken(anna)
    text = homeflow("plan", "back-massage", "-c", "homeflow.yaml", "--profile", "ben", cwd=tmp_path).stdout
    assert text.startswith(
        "Back massage (back-massage) for ben: 5 repetitions (starting level), a first run,"
    )
    text = homeflow("plan", "back-massage", "-c", "homeflow.yaml", cwd=tmp_path).stdout
    assert text.startswith("Back massage (back-massage) for anna: 3 repetitions (the last run hurt: gently,")
    assert ", the gentler run, " in text.splitlines()[0]
    unknown = homeflow("plan", "back-massage", "-c", "homeflow.yaml", "--profile", "cleo", cwd=tmp_path)
    assert unknown.returncode != 0
    assert unknown.stderr == "homeflow: no profile 'cleo' for routine back-massage (profiles: anna, ben)\n"
