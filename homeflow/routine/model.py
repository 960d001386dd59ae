"""Routines as data: what a routine file says, validated, with no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from homeflow.language import DEFAULT, ENGLISH

# Named colour temperatures a routine may use instead of kelvin.
COLOR_TEMPERATURES_K = {"warm": 2700, "neutral": 4000, "cool": 5500}


@dataclass(frozen=True, slots=True)
class Ambience:
    """A light level: brightness in percent, transition in seconds, colour temperature in kelvin."""

    brightness_pct: int
    transition_s: float = 3.0
    color_temp_k: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.brightness_pct <= 100:
            raise ValueError(f"brightness must be 0-100 %, got {self.brightness_pct}")
        if self.transition_s < 0:
            raise ValueError(f"transition must be >= 0 s, got {self.transition_s}")
        if self.color_temp_k is not None and not 1000 <= self.color_temp_k <= 10000:
            raise ValueError(f"colour temperature must be 1000-10000 K, got {self.color_temp_k}")


class When(StrEnum):
    """The runs an action belongs to (its `when:`, one condition or a list that must all hold); an
    action without one belongs to every run."""

    FIRST_RUN = "first_run"  # the person has not completed the routine before
    GENTLE = "gentle"  # the run after "it hurt"
    NOT_GENTLE = "not_gentle"  # every other run
    AT_MAX_REPS = "at_max_reps"  # the run is at `reps.max` repetitions
    BELOW_MAX_REPS = "below_max_reps"  # the run is below `reps.max`


@dataclass(frozen=True, slots=True)
class Say:
    """Announce a sentence; `{name}` placeholders are filled from the routine's variables."""

    text: str
    when: tuple[When, ...] = ()


@dataclass(frozen=True, slots=True)
class Wait:
    """Pause for a number of seconds, optionally announcing `text` first."""

    seconds: float
    text: str | None = None
    when: tuple[When, ...] = ()


@dataclass(frozen=True, slots=True)
class Count:
    """Count aloud "one … N" with `tempo_s` seconds per count; `to` and `tempo_s` may name a variable
    ("{reps}")."""

    to: int | str
    tempo_s: float | str = 3.0
    text: str | None = None
    when: tuple[When, ...] = ()


@dataclass(frozen=True, slots=True)
class Light:
    """Change the ambience mid-routine."""

    ambience: Ambience
    when: tuple[When, ...] = ()


@dataclass(frozen=True, slots=True)
class Repeat:
    """Run `actions` several times: `times` rounds (`{round}` counts them), or once per value of `values`
    bound to the variable `var`."""

    actions: tuple[Action, ...]
    times: int | str = 1
    var: str | None = None
    values: tuple[str, ...] = ()
    when: tuple[When, ...] = ()


Action = Say | Wait | Count | Light | Repeat


@dataclass(frozen=True, slots=True)
class Step:
    """A titled section of a routine (what the state topic calls the current step)."""

    title: str
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class RepeatSteps:
    """Run a group of steps several times, like `Repeat` (e.g. once per side of the spine)."""

    steps: tuple[Step, ...]
    times: int | str = 1
    var: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reps:
    """Repetition level: where a person starts, how far it may progress, and the gentler level of the
    run after "it hurt" (`gentle`; None: half of `start`, rounded up)."""

    start: int = 5
    max: int = 10
    step: int = 5
    good_sessions_to_progress: int = 2
    gentle: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.start <= self.max:
            raise ValueError(f"reps.start must be between 1 and reps.max ({self.max}), got {self.start}")
        if self.step < 1:
            raise ValueError(f"reps.step must be >= 1, got {self.step}")
        if self.gentle is not None and not 1 <= self.gentle <= self.start:
            raise ValueError(
                f"reps.gentle must be between 1 and reps.start ({self.start}), got {self.gentle}"
            )

    @property
    def gentle_reps(self) -> int:
        """The repetitions of the run after "it hurt"."""
        return self.gentle if self.gentle is not None else max(1, math.ceil(self.start / 2))


@dataclass(frozen=True, slots=True)
class Limits:
    """How often a routine may run: at most `max_per_day` completed runs, `min_gap_s` apart, and none
    for `rest_after_hurt_s` after a run answered "it hurt"."""

    max_per_day: int | None = None
    min_gap_s: float = 0.0
    rest_after_hurt_s: float = 24 * 3600.0


# The question, and the gentler option the run after "it hurt" offers, unless the routine names its own
# (in a routine of another language, that language's table says them).
DEFAULT_QUESTION = ENGLISH.question
DEFAULT_GENTLE = ENGLISH.gentle_default


@dataclass(frozen=True, slots=True)
class FeedbackPrompt:
    """The question asked when a run completes; the button answers it within `timeout_s`. `gentle` is
    said before the first step of the run after an "it hurt"."""

    question: str = DEFAULT_QUESTION
    timeout_s: float = 30.0
    gentle: str = DEFAULT_GENTLE


@dataclass(frozen=True, slots=True)
class Routine:
    """A guided routine: an ambience to set, and steps to announce and pace."""

    id: str
    name: str
    steps: tuple[Step | RepeatSteps, ...]
    ambience: Ambience = field(default_factory=lambda: Ambience(brightness_pct=35))
    reps: Reps = field(default_factory=Reps)
    variables: dict[str, str | int] = field(default_factory=dict)
    description: str = ""
    limits: Limits = field(default_factory=Limits)
    feedback: FeedbackPrompt | None = None
    # The safety introduction: said before the first step of the first run, and again whenever it
    # changes (see homeflow.routine.safety).
    safety: tuple[str, ...] = ()
    # The language of its texts: homeflow's own phrases in its runs come from that table (homeflow.language).
    language: str = DEFAULT
    # What a refusal asks to rest ("your back"), in the routine's words; None: the table's neutral one.
    focus: str | None = None
    # The stop rules (when to stop at once, when to get urgent care): repeated after "it hurt".
    stop: tuple[str, ...] = ()
    # `FILE:LINE:COL` of the safety text, for the warning when it has no `stop` (homeflow.settings.stops).
    safety_at: str = field(default="", compare=False)
