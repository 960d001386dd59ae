"""The bundled massage as a person hears it with a ball behind the back: short sentences during the
exercise, the instruction said with each count, the choice of ball on the first run only, a closing line
true at every level, and German words a German voice says well. Checked on `homeflow plan --json`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from homeflow.journal import RunStatus, open_journal
from homeflow.routine.model import Reps, Routine, Say, Step, When
from homeflow.routine.plan import Conditions, CueKind, build_plan
from homeflow.routine.progression import Feedback
from homeflow.routine.safety import on_demand
from homeflow.settings import load

from .conftest import REPO
from .test_gentle import HARDER, ROUTINES, planned, record
from .test_settings import problems, write

ROUTINE_IDS = ("back-massage", "back-massage-de")
# A sentence said while the ball is behind the back is heard, not read: at most this many words.
MOST_WORDS = 20
# The choice of ball: said on a person's first run, not on every run.
BALL_LIST = {"back-massage": "lacrosse ball", "back-massage-de": "Spielball für Hunde"}
# German that reads wrongly or that espeak-ng's German voice says wrongly.
NOT_GERMAN = (
    "alle gehen",
    "in den Ball",
    "Raketenball",
    "Hundeball",
    "Lacrosseball",
    " Mal ",
    "3mal",
    "5mal",
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "routines").mkdir()
    for routine_id in ROUTINE_IDS:
        shutil.copy(ROUTINES / f"{routine_id}.yaml", tmp_path / "routines")
    (tmp_path / "homeflow.yaml").write_text("journal: j.db\n")
    return tmp_path


def exercise(plan: dict[str, Any]) -> list[str]:
    """What the routine's own steps say (not the safety introduction, a level's announcement or the
    question), counts' numbers left out."""
    return [c["text"] for c in plan["cues"] if c["kind"] == "say" and c["step"] >= 0]


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("routine_id", ROUTINE_IDS)
@pytest.mark.parametrize("reps", [5, 10])
def test_every_sentence_of_the_exercise_is_short(home: Path, routine_id: str, reps: int) -> None:
    plan = planned(home, routine_id, "--reps", str(reps))
    assert plan["first_run"] is True  # the first run says the most
    sentences = exercise(plan)
    assert len(sentences) > 20
    assert [s for s in sentences if words(s) > MOST_WORDS] == []


@pytest.mark.parametrize("routine_id", ROUTINE_IDS)
def test_a_count_is_introduced_by_its_instruction(home: Path, routine_id: str) -> None:
    """What is said just before the numbers of a count says what to do ("Slow circles, 5 one way."),
    so the page shows the instruction, not "Begin."."""
    cues = planned(home, routine_id)["cues"]
    before = [cues[i - 1]["text"] for i, c in enumerate(cues) if c["kind"] == "count" and _first(c)]
    assert len(before) == 6  # three counts on each side
    for text in before:
        assert "5" in text and words(text) >= 4, text


def _first(cue: dict[str, Any]) -> bool:
    return cue["text"] in ("One.", "Eins.")


@pytest.mark.parametrize("routine_id", ROUTINE_IDS)
def test_the_ball_list_is_said_on_the_first_run_only(home: Path, routine_id: str) -> None:
    first = " ".join(exercise(planned(home, routine_id)))
    assert BALL_LIST[routine_id] in first
    record(home, routine_id, Feedback.GOOD)
    again = " ".join(exercise(planned(home, routine_id)))
    assert BALL_LIST[routine_id] not in again
    assert "rocket" not in first.lower() and "Raketen" not in first  # a ball nobody knows


@pytest.mark.parametrize(
    ("routine_id", "up", "top"),
    [
        (
            "back-massage",
            "Go up to 10 repetitions only when 5 feel good.",
            "10 is as far as this massage goes.",
        ),
        (
            "back-massage-de",
            "Steigere dich erst auf 10 Wiederholungen, wenn sich 5 gut anfühlen.",
            "Mehr als 10 Wiederholungen verlangt diese Massage nicht.",
        ),
    ],
)
def test_the_closing_line_is_true_at_every_level(home: Path, routine_id: str, up: str, top: str) -> None:
    at_five = exercise(planned(home, routine_id, "--reps", "5"))[-1]
    at_ten = exercise(planned(home, routine_id, "--reps", "10"))[-1]
    assert at_five.startswith(up)
    assert at_ten.startswith(top)
    # At the highest level nothing promises more: no "up to 10 … when 10 feel good".
    assert not re.search(
        r"\b10\b.*\b10\b.*(feel good|gut anfühlen)",
        " ".join(exercise(planned(home, routine_id, "--reps", "10"))),
    )


def test_german_wording_a_german_voice_says_well(home: Path) -> None:
    first = " ".join(exercise(planned(home, "back-massage-de")))
    record(home, "back-massage-de", Feedback.HURT)
    gentle = planned(home, "back-massage-de")
    assert gentle["gentle"] is True
    text = f"{first} {' '.join(exercise(gentle))}"
    assert [bad for bad in NOT_GERMAN if bad in text] == []
    assert "5-mal in eine Richtung" in first


def test_when_takes_a_list_and_the_level_conditions() -> None:
    routine = Routine(
        id="r",
        name="R",
        reps=Reps(start=5, max=10, step=5),
        steps=(
            Step(
                "Only",
                (
                    Say("Up later.", (When.BELOW_MAX_REPS, When.NOT_GENTLE)),
                    Say("At the top.", (When.AT_MAX_REPS,)),
                    Say("First and not gentle.", (When.FIRST_RUN, When.NOT_GENTLE)),
                ),
            ),
        ),
    )

    def spoken(reps: int, conditions: Conditions) -> list[str]:
        plan = build_plan(routine, reps, lambda _text: 1.0, conditions=conditions)
        return [c.text or "" for c in plan.cues if c.kind is CueKind.SAY]

    assert spoken(5, Conditions()) == ["Up later."]
    assert spoken(10, Conditions()) == ["At the top."]
    assert spoken(5, Conditions(first_run=True)) == ["Up later.", "First and not gentle."]
    assert spoken(3, Conditions(first_run=True, gentle=True)) == []


def test_a_list_of_conditions_is_checked_item_by_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "routines/r.yaml",
        """\
        name: R
        steps:
          - title: One
            do:
              - say: Hello.
                when: [first_run, at_max]
              - say: Bye.
                when: []
        """,
    )
    assert problems(write(tmp_path, "homeflow.yaml", "")) == [
        'routines/r.yaml:6:27: steps[0].do[0].when[1]: unknown condition "at_max"; '
        'did you mean "at_max_reps"?',
        "routines/r.yaml:8:15: steps[0].do[1].when: needs at least one condition (first_run, gentle, "
        "not_gentle, at_max_reps, below_max_reps)",
    ]


@pytest.mark.parametrize("routine_id", ROUTINE_IDS)
def test_a_first_run_cancelled_because_it_hurt_is_followed_by_a_gentle_first_run(
    home: Path, routine_id: str
) -> None:
    """Nobody has completed the routine yet, but the first try was cancelled and answered "it hurt":
    the next run still tells which ball to take, and says nothing of pressing deeper or a firmer ball."""
    with open_journal(home / "j.db") as journal:
        run = journal.start_run(routine_id, "button:massage", 5, 250.0, {})
        journal.finish_run(run, RunStatus.CANCELLED)
        journal.set_feedback(run, Feedback.HURT)
    plan = planned(home, routine_id)
    assert (plan["first_run"], plan["gentle"], plan["reps"]) == (True, True, 3)
    said = " ".join(exercise(plan)).lower()
    assert BALL_LIST[routine_id].lower() in said
    assert not [word for word in HARDER[routine_id] if word in said]


@pytest.mark.parametrize("routine_id", ROUTINE_IDS)
def test_the_choice_of_ball_is_said_again_on_demand_after_the_safety_text(routine_id: str) -> None:
    routine = load(REPO / "homeflow" / "defaults" / "homeflow.yaml").routines[routine_id]
    text = on_demand(routine)
    assert text is not None and text.startswith(" ".join(routine.safety))
    assert BALL_LIST[routine_id] in text
    assert "Slow circles" not in text and "Langsame Kreise" not in text  # said on every run: not repeated
