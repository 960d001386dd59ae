"""The Plan: a routine turned into a timeline of cues before anything moves. Pure: no I/O, no clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from homeflow.language import ENGLISH, Phrases, phrases
from homeflow.routine.model import (
    Action,
    Ambience,
    Count,
    Light,
    Repeat,
    RepeatSteps,
    Routine,
    Say,
    Step,
    Wait,
    When,
)

_Num = TypeVar("_Num", int, float)

# Spoken length of a sentence in seconds; the service measures rendered clips, `estimate_speech_s` guesses.
SpeechDurations = Callable[[str], float]


class CueKind(StrEnum):
    STEP = "step"  # a new step begins (state only, nothing is said)
    SAFETY = "safety"  # a sentence of the safety introduction, said before the first step
    LIGHT = "light"
    SAY = "say"
    COUNT = "count"  # one number of a spoken count
    WAIT = "wait"
    END = "end"  # the routine is over: lights are restored, the run is complete
    ASK = "ask"  # after the end: the question how it felt, which the button answers


SPOKEN = frozenset({CueKind.SAY, CueKind.SAFETY, CueKind.COUNT, CueKind.ASK})


@dataclass(frozen=True, slots=True)
class Cue:
    at: float  # seconds from the start of the run
    kind: CueKind
    step: int  # index into Plan.steps; -1 before the first step
    text: str | None = None
    ambience: Ambience | None = None
    duration_s: float = 0.0
    count: tuple[int, int] | None = None  # a number of a spoken count: (n, of), e.g. 3 of 5

    def describe(self) -> str:
        if self.ambience is not None:
            a = self.ambience
            temp = f", {a.color_temp_k} K" if a.color_temp_k else ""
            return f"{a.brightness_pct} %{temp}, {a.transition_s:g} s transition"
        if self.kind is CueKind.WAIT:
            return f"{self.duration_s:g} s"
        return self.text or ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"at": round(self.at, 3), "kind": str(self.kind), "step": self.step}
        if self.text is not None:
            data["text"] = self.text
        if self.ambience is not None:
            data["ambience"] = {
                "brightness_pct": self.ambience.brightness_pct,
                "transition_s": self.ambience.transition_s,
                "color_temp_k": self.ambience.color_temp_k,
            }
        if self.duration_s:
            data["duration_s"] = round(self.duration_s, 3)
        return data


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a run is, for the actions that say `when:`: the person's first run of the routine, whether
    it is the gentler run after "it hurt", and whether it is at the routine's highest level (set by
    the planner from the run's repetitions)."""

    first_run: bool = False
    gentle: bool = False
    at_max_reps: bool = False

    def hold(self, when: tuple[When, ...]) -> bool:
        """Whether an action with this `when:` belongs to the run: every condition of it holds."""
        return all(self._holds(condition) for condition in when)

    def _holds(self, condition: When) -> bool:
        match condition:
            case When.FIRST_RUN:
                return self.first_run
            case When.GENTLE | When.NOT_GENTLE:
                return self.gentle is (condition is When.GENTLE)
            case When.AT_MAX_REPS | When.BELOW_MAX_REPS:
                return self.at_max_reps is (condition is When.AT_MAX_REPS)

    def to_json(self) -> dict[str, bool]:
        return {"first_run": self.first_run, "gentle": self.gentle, "at_max_reps": self.at_max_reps}


# A run that is neither the person's first nor the gentler one.
USUAL_RUN = Conditions()


@dataclass(frozen=True, slots=True)
class Plan:
    routine_id: str
    routine_name: str
    reps: int
    steps: tuple[str, ...]
    cues: tuple[Cue, ...]
    ambience: Ambience
    variables: Mapping[str, str | int] = field(default_factory=dict)
    # Spoken lengths of what may be said around the cues (paused, resuming, the replies to the question).
    phrases: Mapping[str, float] = field(default_factory=dict)
    # The routine's safety introduction, and whether this run says it (its SAFETY cues).
    safety: tuple[str, ...] = ()
    safety_owed: bool = False
    conditions: Conditions = field(default_factory=Conditions)

    @property
    def total_s(self) -> float:
        """When the routine ends (the question after it is not counted)."""
        return next((c.at for c in reversed(self.cues) if c.kind is CueKind.END), 0.0)

    def sentences(self) -> tuple[str, ...]:
        """Every distinct sentence the run will say, in order of first use."""
        seen = dict.fromkeys(c.text for c in self.cues if c.kind in SPOKEN and c.text)
        return tuple(t for t in seen if t)

    def first_cue_of_step(self, step: int) -> int | None:
        return next((i for i, c in enumerate(self.cues) if c.kind is CueKind.STEP and c.step == step), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "routine": self.routine_id,
            "name": self.routine_name,
            "reps": self.reps,
            "total_s": round(self.total_s, 3),
            "steps": list(self.steps),
            "safety": list(self.safety),
            "safety_owed": self.safety_owed,
            **self.conditions.to_json(),
            "cues": [c.to_json() for c in self.cues],
        }


def estimate_speech_s(text: str, rate_wpm: int = 150) -> float:
    """A rendering-free guess of how long a sentence takes to say."""
    words = max(1, len(text.split()))
    return round(words * 60 / rate_wpm + 0.4, 2)


def opening(routine: Routine) -> Cue:
    """Every plan's first cue: the routine's ambience, at once (known before any speech is rendered)."""
    return Cue(0.0, CueKind.LIGHT, -1, ambience=routine.ambience)


def build_plan(
    routine: Routine,
    reps: int,
    speech_s: SpeechDurations,
    preface: tuple[str, ...] = (),
    question: str | None = None,
    *,
    safety: bool = False,
    conditions: Conditions = USUAL_RUN,
) -> Plan:
    """Lay out every cue of `routine` at `reps` repetitions; sentences take `speech_s(text)` seconds.
    With `safety` the routine's safety introduction is said first; then `preface` sentences (e.g. a new
    level) before the first step, and `question` after the end. Actions whose `when:` the run's
    `conditions` do not hold are left out."""
    return _Planner(routine, reps, speech_s, conditions).plan(preface, question, safety)


def count_words(to: int, said: Phrases = ENGLISH) -> list[str]:
    """The numbers of a spoken count, "One." to `to`, in the language of `said`."""
    return [said.counted(i) for i in range(1, to + 1)]


def sentences(
    routine: Routine,
    reps: int,
    preface: tuple[str, ...] = (),
    question: str | None = None,
    *,
    safety: bool = False,
    conditions: Conditions = USUAL_RUN,
) -> tuple[str, ...]:
    """The sentences a run at `reps` says, to render before the plan is timed."""
    plan = build_plan(
        routine, reps, lambda _text: 1.0, preface, question, safety=safety, conditions=conditions
    )
    return plan.sentences()


def scope_of(routine: Routine, reps: int) -> dict[str, str | int]:
    """What a routine's `{placeholders}` may name at `reps`: its variables, `reps` and `max_reps`."""
    return {**routine.variables, "reps": reps, "max_reps": routine.reps.max}


class _Planner:
    def __init__(
        self, routine: Routine, reps: int, speech_s: SpeechDurations, conditions: Conditions
    ) -> None:
        self.routine = routine
        self.conditions = dataclasses.replace(conditions, at_max_reps=reps >= routine.reps.max)
        self.speech_s = speech_s
        self.base_vars = scope_of(routine, reps)
        self.reps = reps
        self.cues: list[Cue] = []
        self.titles: list[str] = []
        self.t = 0.0

    def plan(self, preface: tuple[str, ...], question: str | None, safety: bool) -> Plan:
        self.cues.append(opening(self.routine))
        owed = safety and bool(self.routine.safety)
        for text in self.routine.safety if owed else ():
            self._say(text, -1, CueKind.SAFETY)
        for text in preface:
            self._say(text, -1)
        for step, scope in _expand_steps(self.routine.steps, self.base_vars):
            index = len(self.titles)
            self.titles.append(_sentence(step.title, scope))
            self.cues.append(Cue(self.t, CueKind.STEP, index, text=self.titles[-1]))
            for action, action_scope in _expand_actions(step.actions, scope, self.conditions):
                self._action(action, action_scope, index)
        self.cues.append(Cue(self.t, CueKind.END, len(self.titles) - 1))
        if question:
            self._say(question, len(self.titles) - 1, CueKind.ASK)
        return Plan(
            routine_id=self.routine.id,
            routine_name=self.routine.name,
            reps=self.reps,
            steps=tuple(self.titles),
            cues=tuple(self.cues),
            ambience=self.routine.ambience,
            variables=self.base_vars,
            safety=self.routine.safety,
            safety_owed=owed,
            conditions=self.conditions,
        )

    def _say(self, text: str, step: int, kind: CueKind = CueKind.SAY) -> None:
        duration = self.speech_s(text)
        self.cues.append(Cue(self.t, kind, step, text=text, duration_s=duration))
        self.t += duration

    def _action(self, action: Action, scope: Mapping[str, str | int], step: int) -> None:
        match action:
            case Say(text=text):
                self._say(_sentence(text, scope), step)
            case Wait(seconds=seconds, text=text):
                if text:
                    self._say(_sentence(text, scope), step)
                self.cues.append(Cue(self.t, CueKind.WAIT, step, duration_s=seconds))
                self.t += seconds
            case Count(to=to, tempo_s=tempo, text=text):
                if text:
                    self._say(_sentence(text, scope), step)
                words = count_words(_number(to, scope, int), phrases(self.routine.language))
                # A steady beat: one count per movement, slower only if a number takes longer to say.
                beat = max(_number(tempo, scope, float), *(self.speech_s(w) for w in words))
                for n, word in enumerate(words, start=1):
                    self.t += beat
                    self.cues.append(
                        Cue(
                            self.t,
                            CueKind.COUNT,
                            step,
                            text=word,
                            duration_s=self.speech_s(word),
                            count=(n, len(words)),
                        )
                    )
                self.t += self.speech_s(words[-1]) if words else 0.0
            case Light(ambience=ambience):
                self.cues.append(Cue(self.t, CueKind.LIGHT, step, ambience=ambience))
            case Repeat():  # already expanded by _expand_actions
                raise AssertionError("unexpanded repeat")


def _expand_steps(
    steps: tuple[Step | RepeatSteps, ...], scope: Mapping[str, str | int]
) -> Iterator[tuple[Step, Mapping[str, str | int]]]:
    for item in steps:
        if isinstance(item, Step):
            yield item, scope
        else:
            for inner in _rounds(item.times, item.var, item.values, scope):
                yield from _expand_steps(item.steps, inner)


def _expand_actions(
    actions: tuple[Action, ...], scope: Mapping[str, str | int], conditions: Conditions
) -> Iterator[tuple[Action, Mapping[str, str | int]]]:
    for action in actions:
        if not conditions.hold(action.when):
            continue
        if isinstance(action, Repeat):
            for inner in _rounds(action.times, action.var, action.values, scope):
                yield from _expand_actions(action.actions, inner, conditions)
        else:
            yield action, scope


def _rounds(
    times: int | str, var: str | None, values: tuple[str, ...], scope: Mapping[str, str | int]
) -> Iterator[Mapping[str, str | int]]:
    if var is not None:
        for value in values:
            yield {**scope, var: value}
    else:
        for n in range(1, _number(times, scope, int) + 1):
            yield {**scope, "round": n}


def _number(value: int | float | str, scope: Mapping[str, str | int], kind: type[_Num]) -> _Num:
    """A number that may be written as a variable, e.g. "{reps}" (the loader checked it is numeric)."""
    if isinstance(value, str):
        value = value.format_map(scope)
    return kind(value)


def _sentence(template: str, scope: Mapping[str, str | int]) -> str:
    text = template.format_map(scope)
    return text[:1].upper() + text[1:]
