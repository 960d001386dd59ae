import dataclasses
import itertools

from homeflow.planning import prepare_plan
from homeflow.routine.model import FeedbackPrompt, Reps
from homeflow.routine.plan import CueKind, build_plan, estimate_speech_s
from homeflow.routine.progression import Feedback, Level, next_level

from .routines import SHORT


def two_seconds(_text: str) -> float:
    return 2.0


def test_plan_lays_out_every_cue_at_its_offset() -> None:
    plan = build_plan(SHORT, 3, two_seconds)
    timeline = [(c.at, str(c.kind), c.text or "") for c in plan.cues if c.kind is not CueKind.LIGHT]
    assert plan.steps == ("Start", "Left side", "Right side", "End")
    assert timeline[:5] == [
        (0.0, "step", "Start"),
        (0.0, "say", "Hello."),
        (2.0, "say", "Get ready."),
        (4.0, "wait", ""),
        (14.0, "step", "Left side"),
    ]
    # Intro sentence, then one count per 4 s beat, then the last number's own length.
    left = [(c.at, c.text) for c in plan.cues if c.step == 1 and c.kind in (CueKind.SAY, CueKind.COUNT)]
    assert left == [(14.0, "3 circles on the left."), (20.0, "One."), (24.0, "Two."), (28.0, "Three.")]
    assert plan.cues[-1].kind is CueKind.END
    assert plan.total_s == plan.cues[-1].at == 2 * (2 + 3 * 4 + 2) + 14 + 2 * 2


def test_counts_slow_down_only_when_a_number_takes_longer_than_the_beat() -> None:
    plan = build_plan(SHORT, 3, lambda text: 5.0 if text == "Three." else 1.0)
    counts = [c.at for c in plan.cues if c.kind is CueKind.COUNT and c.step == 1]
    assert [b - a for a, b in itertools.pairwise(counts)] == [5.0, 5.0]


def test_lights_and_variables() -> None:
    plan = build_plan(SHORT, 6, two_seconds)
    lights = [c for c in plan.cues if c.kind is CueKind.LIGHT]
    assert [c.ambience.brightness_pct for c in lights if c.ambience] == [30, 60]
    assert lights[0].at == 0.0
    assert "6 circles on the right." in plan.sentences()
    assert [t for t in plan.sentences() if t.startswith("Round")] == ["Round 1.", "Round 2."]
    assert len([c for c in plan.cues if c.kind is CueKind.COUNT]) == 12


async def test_the_question_after_the_end_has_its_placeholders_filled_in() -> None:
    routine = dataclasses.replace(SHORT, feedback=FeedbackPrompt("Did {reps} {what} feel good?"))
    routine = dataclasses.replace(routine, variables={**routine.variables, "what": "circles"})
    plan = await prepare_plan(routine, Level(6, "test"), [], hint="Press once if so.")
    [ask] = [c for c in plan.cues if c.kind is CueKind.ASK]
    assert ask.text == "Did 6 circles feel good? Press once if so."


def test_plan_json_round_trips_the_timeline() -> None:
    data = build_plan(SHORT, 3, two_seconds).to_json()
    assert data["routine"] == "short"
    assert data["total_s"] == 50.0
    assert data["cues"][0] == {
        "at": 0.0,
        "kind": "light",
        "step": -1,
        "ambience": {"brightness_pct": 30, "transition_s": 2, "color_temp_k": 2700},
    }


def test_estimate_grows_with_words() -> None:
    assert estimate_speech_s("One.") < estimate_speech_s("Place the ball beside your spine, not on it.")


def test_progression_moves_up_after_good_runs_and_back_after_too_much() -> None:
    reps = Reps(start=5, max=10, step=5, good_sessions_to_progress=2)
    g, t = Feedback.GOOD, Feedback.TOO_MUCH
    assert next_level(reps, []).reps == 5
    assert next_level(reps, [g]).reps == 5
    assert next_level(reps, [g, None, g]).reps == 10
    assert next_level(reps, [g, g, g, g, g, g]).reps == 10
    assert next_level(reps, [g, g, t]).reps == 5
    assert "too much" in next_level(reps, [g, g, t]).reason


def test_the_safety_introduction_comes_first_only_when_owed() -> None:
    careful = dataclasses.replace(SHORT, safety=("Stop if it hurts.", "Ask first when pregnant."))
    owed = build_plan(careful, 3, two_seconds, ("Today we go up.",), safety=True)
    first = [(c.at, str(c.kind), c.step, c.text) for c in owed.cues[:5]]
    assert first == [
        (0.0, "light", -1, None),
        (0.0, "safety", -1, "Stop if it hurts."),
        (2.0, "safety", -1, "Ask first when pregnant."),
        (4.0, "say", -1, "Today we go up."),
        (6.0, "step", 0, "Start"),
    ]
    assert (owed.safety, owed.safety_owed) == (careful.safety, True)
    assert owed.to_json()["safety"] == list(careful.safety) and owed.to_json()["safety_owed"] is True
    heard = build_plan(careful, 3, two_seconds, safety=False)
    assert CueKind.SAFETY not in {c.kind for c in heard.cues}
    assert (heard.safety, heard.safety_owed) == (careful.safety, False)
    # A routine without a safety text owes none.
    assert build_plan(SHORT, 3, two_seconds, safety=True).safety_owed is False
    assert owed.total_s == heard.total_s + 4.0 + 2.0
