"""Small routines built in code for unit tests of the pure core."""

from homeflow.routine.model import Ambience, Count, Light, Repeat, RepeatSteps, Reps, Routine, Say, Step, Wait

SHORT = Routine(
    id="short",
    name="Short",
    ambience=Ambience(brightness_pct=30, transition_s=2, color_temp_k=2700),
    reps=Reps(start=3, max=6, step=3, good_sessions_to_progress=2),
    variables={"tempo": 4},
    steps=(
        Step("Start", (Say("Hello."), Wait(10, "Get ready."))),
        RepeatSteps(
            var="side",
            values=("left", "right"),
            steps=(Step("{side} side", (Count("{reps}", "{tempo}", "{reps} circles on the {side}."),)),),
        ),
        Step("End", (Light(Ambience(60, 5)), Repeat((Say("Round {round}."),), times=2))),
    ),
)
