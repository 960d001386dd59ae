"""Routine files: YAML nodes into a `Routine`, with every `{placeholder}` checked against its scope."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection

from homeflow.language import DEFAULT, LANGUAGES, Phrases
from homeflow.routine.model import (
    COLOR_TEMPERATURES_K,
    Action,
    Ambience,
    Count,
    FeedbackPrompt,
    Light,
    Limits,
    Repeat,
    RepeatSteps,
    Reps,
    Routine,
    Say,
    Step,
    Wait,
    When,
)
from homeflow.settings import placeholders as ph
from homeflow.settings import routine_size
from homeflow.settings.checks import Checker, describe
from homeflow.settings.limits import (
    MAX_COUNT,
    MAX_DESCRIPTION_CHARS,
    MAX_FEEDBACK_TIMEOUT_S,
    MAX_GAP_MINUTES,
    MAX_REPS,
    MAX_REST_AFTER_HURT_HOURS,
    MAX_SAFETY_SENTENCES,
    MAX_SENTENCE_CHARS,
    MAX_TIMES,
    MAX_TITLE_CHARS,
    MAX_TRANSITION_S,
)
from homeflow.settings.problems import child, index, quote
from homeflow.settings.yamlnodes import Map, Node, Scalar, Seq

# Routine ids become MQTT topic levels.
ROUTINE_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_ROUTINE_KEYS = (
    "name",
    "description",
    "language",
    "focus",
    "ambience",
    "reps",
    "variables",
    "limits",
    "feedback",
    "safety",
    "stop",
    "steps",
)
# Where a safety text given as one text is cut into the sentences said one by one.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LIMITS_KEYS = ("max_per_day", "min_gap_minutes", "rest_after_hurt_hours")
_FEEDBACK_KEYS = ("ask", "timeout", "gentle")
_AMBIENCE_KEYS = ("brightness", "transition", "color_temperature")
_REPS_KEYS = ("start", "max", "step", "good_sessions_to_progress", "gentle")
_ROUNDS_KEYS = ("times", "for", "in")
_ACTIONS = ("say", "wait", "count", "light", "repeat")
# Beside an action's key: which runs it belongs to (homeflow.routine.model.When).
_WHEN = "when"
RESERVED = ("reps", "max_reps", "round")


def parse_routine(ch: Checker, node: Node, routine_id: str) -> Routine | None:
    """The routine a file describes, or None if it has problems (all of them reported)."""
    before = len(ch.problems)
    f = ch.fields(node, "", _ROUTINE_KEYS, required=("name", "steps"))
    name = ch.text(f.get("name"), "name", "", most=MAX_TITLE_CHARS)
    description = ch.text(f.get("description"), "description", "", empty_ok=True, most=MAX_DESCRIPTION_CHARS)
    language = ch.choice(f.get("language"), "language", DEFAULT, list(LANGUAGES), "language")
    focus = ch.text(f.get("focus"), "focus", most=MAX_TITLE_CHARS)
    ambience = Ambience(35) if "ambience" not in f else parse_ambience(ch, f["ambience"], "ambience")
    reps = _reps(ch, f.get("reps"))
    variables = _variables(ch, f.get("variables"))
    scope: ph.Scope = {
        "reps": ph.Held(None, ph.NUMBER_WIDTH),
        "max_reps": ph.Held(None, ph.NUMBER_WIDTH),
        **{key: ph.Held(value, len(str(value))) for key, value in variables.items()},
    }
    steps = _steps(ch, f.get("steps"), "steps", scope, nested=False)
    limits = _limits(ch, f.get("limits"))
    feedback = _feedback(ch, f.get("feedback"), scope, LANGUAGES[language])
    safety = _sentences(ch, f.get("safety"), "safety")
    stop = _sentences(ch, f.get("stop"), "stop")
    if len(ch.problems) > before or ambience is None:
        return None
    routine = Routine(
        routine_id,
        name,
        tuple(steps),
        ambience,
        reps,
        variables,
        description.strip(),
        limits,
        feedback,
        safety,
        language,
        focus,
        stop,
        safety_at=_at(f.get("safety")),
    )
    return routine if routine_size.fits(ch, routine, f["steps"]) else None


def _limits(ch: Checker, node: Node | None) -> Limits:
    f = ch.fields(node, "limits", _LIMITS_KEYS)
    return Limits(
        max_per_day=ch.integer(f.get("max_per_day"), "limits.max_per_day", None, lo=1, what="a count"),
        min_gap_s=60
        * ch.number(
            f.get("min_gap_minutes"), "limits.min_gap_minutes", 0.0, hi=MAX_GAP_MINUTES, what="minutes"
        ),
        rest_after_hurt_s=3600
        * ch.number(
            f.get("rest_after_hurt_hours"),
            "limits.rest_after_hurt_hours",
            24.0,
            hi=MAX_REST_AFTER_HURT_HOURS,
            what="hours",
        ),
    )


def _feedback(ch: Checker, node: Node | None, scope: ph.Scope, said: Phrases) -> FeedbackPrompt | None:
    """`feedback: true` asks the language's question; a mapping sets `ask`, `timeout` (seconds) and
    `gentle` (the gentler option offered after "it hurt")."""
    if node is None or (isinstance(node, Scalar) and node.value is False):
        return None
    default = FeedbackPrompt(question=said.question, gentle=said.gentle_default)
    if isinstance(node, Scalar) and node.value is True:
        return default
    f = ch.fields(node, "feedback", _FEEDBACK_KEYS)
    question = ph.optional_text(ch, f, "ask", "feedback", scope)
    timeout = ch.number(
        f.get("timeout"), "feedback.timeout", default.timeout_s, above=True, hi=MAX_FEEDBACK_TIMEOUT_S
    )
    gentle = ph.optional_text(ch, f, "gentle", "feedback", scope)
    return FeedbackPrompt(question or default.question, timeout, gentle or default.gentle)


def _sentences(ch: Checker, node: Node | None, key: str) -> tuple[str, ...]:
    """`safety` (the introduction) or `stop` (the stop rules): a list of sentences, or a text cut into
    sentences; each said as written (no placeholders), at most MAX_SENTENCE_CHARS each and
    MAX_SAFETY_SENTENCES in all."""
    if node is None:
        return ()
    if isinstance(node, Seq):
        if not node.items:
            ch.report(node, key, "needs at least one sentence")
        said = (ch.text(item, index(key, i), most=MAX_SENTENCE_CHARS) for i, item in enumerate(node.items))
        sentences = [text.strip() for text in said if text is not None]
    elif isinstance(node, Scalar) and isinstance(node.value, str):
        text = ch.text(node, key, "")
        sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
        if (longest := max(map(len, sentences), default=0)) > MAX_SENTENCE_CHARS:
            ch.report(node, key, f"a sentence of {longest} characters; at most {MAX_SENTENCE_CHARS}")
            return ()
    else:
        ch.report(node, key, f"expected a list of sentences or a text, got {describe(node)}")
        return ()
    if len(sentences) > MAX_SAFETY_SENTENCES:
        ch.report(node, key, f"at most {MAX_SAFETY_SENTENCES} sentences, got {len(sentences)}")
        return ()
    return tuple(sentences)


def _at(node: Node | None) -> str:
    return "" if node is None else f"{node.mark.file}:{node.mark.line}:{node.mark.column}"


def parse_ambience(ch: Checker, node: Node, path: str) -> Ambience | None:
    """Brightness (required), transition and colour temperature."""
    before = len(ch.problems)
    f = ch.fields(node, path, _AMBIENCE_KEYS, required=("brightness",))
    brightness = ch.integer(
        f.get("brightness"), child(path, "brightness"), 0, lo=0, hi=100, what="a percentage"
    )
    transition = ch.number(f.get("transition"), child(path, "transition"), 3.0, hi=MAX_TRANSITION_S)
    kelvin = _color_temperature(ch, f.get("color_temperature"), child(path, "color_temperature"))
    if len(ch.problems) > before:
        return None
    try:
        return Ambience(brightness, transition, kelvin)
    except ValueError as error:
        ch.report(node, path, str(error))
        return None


def _color_temperature(ch: Checker, node: Node | None, path: str) -> int | None:
    if node is None:
        return None
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, str) and value in COLOR_TEMPERATURES_K:
        return COLOR_TEMPERATURES_K[value]
    if isinstance(value, int) and not isinstance(value, bool):
        return ch.integer(node, path, None, lo=1000, hi=10000)
    names = ", ".join(COLOR_TEMPERATURES_K)
    ch.report(node, path, f"expected {names} or kelvin (1000-10000), got {describe(node)}")
    return None


def _reps(ch: Checker, node: Node | None) -> Reps:
    default = Reps()
    if node is None:
        return default
    before = len(ch.problems)
    f = ch.fields(node, "reps", _REPS_KEYS)
    start = ch.integer(f.get("start"), "reps.start", default.start, lo=1)
    most = ch.integer(f.get("max"), "reps.max", default.max, lo=1, hi=MAX_REPS)
    step = ch.integer(f.get("step"), "reps.step", default.step, lo=1)
    good = f.get("good_sessions_to_progress")
    good_sessions = ch.integer(
        good, "reps.good_sessions_to_progress", default.good_sessions_to_progress, lo=1
    )
    gentle = ch.integer(f.get("gentle"), "reps.gentle", None, lo=1)
    if len(ch.problems) > before:
        return default
    try:
        return Reps(start, most, step, good_sessions, gentle)
    except ValueError as error:
        # The model says "reps.start must be …": point at that key when it was given.
        key, _, rest = str(error).partition(" ")
        given = f.get(key.removeprefix("reps.")) if key.startswith("reps.") else None
        if given is not None:
            ch.report(given, key, rest)
        else:
            ch.report(node, "reps", str(error))
        return default


def _variables(ch: Checker, node: Node | None) -> dict[str, str | int]:
    found: dict[str, str | int] = {}
    for key, value in ch.entries(node, "variables"):
        path = child("variables", key.text)
        if not _check_name(ch, key, key.text, path):
            continue
        held = value.value if isinstance(value, Scalar) else None
        if isinstance(held, int) and not isinstance(held, bool):
            found[key.text] = held
        elif held is None or isinstance(held, float):
            ch.report(value, path, f"expected text or a whole number, got {describe(value)}")
        else:
            assert isinstance(value, Scalar)
            found[key.text] = value.text
    return found


def _check_name(ch: Checker, at: Node, name: str, path: str) -> bool:
    if not ph.NAME.fullmatch(name):
        ch.report(at, path, f"{quote(name)} is not a name (letters, digits and _, not starting with a digit)")
        return False
    if name in RESERVED:
        ch.report(at, path, f"{{{name}}} is provided by homeflow; choose another name")
        return False
    return True


def _steps(
    ch: Checker, node: Node | None, path: str, scope: ph.Scope, *, nested: bool
) -> list[Step | RepeatSteps]:
    items = ch.items(node, path)
    if node is not None and items == []:
        ch.report(node, path, "needs at least one step")
    steps = [_step(ch, item, index(path, i), scope, nested=nested) for i, item in enumerate(items or [])]
    return [step for step in steps if step is not None]


def _step(ch: Checker, node: Node, path: str, scope: ph.Scope, *, nested: bool) -> Step | RepeatSteps | None:
    if isinstance(node, Map) and "repeat" in node.entries:
        if nested:
            key = node.entries["repeat"][0]
            ch.report(
                key, child(path, "repeat"), "a repeat's steps cannot repeat again (repeat actions instead)"
            )
            return None
        f = ch.fields(node, path, ("repeat",), required=("repeat",))
        if "repeat" not in f:
            return None
        body, where = f["repeat"], child(path, "repeat")
        rounds = ch.fields(body, where, (*_ROUNDS_KEYS, "steps"), required=("steps",))
        times, var, values, inner = _rounds(ch, body, rounds, where, scope)
        steps = _steps(ch, rounds.get("steps"), child(where, "steps"), inner, nested=True)
        return RepeatSteps(tuple(step for step in steps if isinstance(step, Step)), times, var, values)
    f = ch.fields(node, path, ("title", "do"), required=("title", "do"))
    title = ph.checked_text(ch, f.get("title"), child(path, "title"), scope, most=MAX_TITLE_CHARS)
    return Step(title, _actions(ch, f.get("do"), child(path, "do"), scope))


def _rounds(
    ch: Checker, node: Node, f: dict[str, Node], path: str, scope: ph.Scope
) -> tuple[int | str, str | None, tuple[str, ...], ph.Scope]:
    """How a repeat repeats: `times` rounds or `for` each value `in` a list; and the scope inside it."""
    inner = dict(scope)
    times: int | str = 1
    if "times" in f:
        inner["round"] = ph.Held(None, ph.NUMBER_WIDTH)
        times = (
            ph.whole(
                ch, f["times"], child(path, "times"), scope, most=MAX_TIMES, what="a whole number of times"
            )
            or 1
        )
    var = ch.text(f.get("for"), child(path, "for"))
    if var is not None and not _check_name(ch, f["for"], var, child(path, "for")):
        var = None
    values: list[str] = []
    numbers = True
    items = ch.items(f.get("in"), child(path, "in"))
    if "in" in f and items == []:
        ch.report(f["in"], child(path, "in"), "needs at least one value")
    elif items is not None and len(items) > MAX_TIMES:
        ch.report(f["in"], child(path, "in"), f"at most {MAX_TIMES} values, got {len(items)}")
    for i, item in enumerate(items or []):
        value = ch.text(item, index(child(path, "in"), i))
        if value is not None:
            values.append(value)
            held = item.value if isinstance(item, Scalar) else None
            whole = (
                isinstance(held, int) and not isinstance(held, bool) and routine_size.INTEGER.fullmatch(value)
            )
            numbers = numbers and bool(whole)
    if var is not None:
        width = max((len(value) for value in values), default=0)
        if values and numbers:
            ints = [int(value) for value in values]
            inner[var] = ph.Held(max(ints), width, min(ints))
        else:
            inner[var] = ph.Held("".join(values[:1]), width)
    if isinstance(node, Map):  # Otherwise it was reported as not a mapping.
        _check_rounds(ch, node, f.keys(), path)
    return times, var, tuple(values), inner


def _check_rounds(ch: Checker, node: Node, given: Collection[str], path: str) -> None:
    if "times" in given and ("for" in given or "in" in given):
        ch.report(node, path, "use either times, or for with in, not both")
    elif not set(given) & set(_ROUNDS_KEYS):
        ch.report(node, path, "needs times, or for with in")
    elif ("for" in given) != ("in" in given):
        missing = "in" if "for" in given else "for"
        ch.report(node, child(path, missing), "missing (for and in go together)")


def _actions(ch: Checker, node: Node | None, path: str, scope: ph.Scope) -> tuple[Action, ...]:
    items = ch.items(node, path)
    if node is not None and items == []:
        ch.report(node, path, "needs at least one action")
    actions = [_action(ch, item, index(path, i), scope) for i, item in enumerate(items or [])]
    return tuple(action for action in actions if action is not None)


def _action(ch: Checker, node: Node, path: str, scope: ph.Scope) -> Action | None:
    when: tuple[When, ...] = ()
    if isinstance(node, Map) and _WHEN in node.entries:
        when = _when(ch, node.entries[_WHEN][1], child(path, _WHEN))
        node = dataclasses.replace(node, entries={k: v for k, v in node.entries.items() if k != _WHEN})
        if not node.entries:
            ch.report(node, path, f"expected one action key ({', '.join(_ACTIONS)}) beside when")
            return None
    action = _what(ch, node, path, scope)
    return action if action is None or not when else dataclasses.replace(action, when=when)


def _when(ch: Checker, node: Node, path: str) -> tuple[When, ...]:
    """`when:` one condition, or a list of them that must all hold."""
    known = [w.value for w in When]
    nodes = node.items if isinstance(node, Seq) else (node,)
    if not nodes:
        ch.report(node, path, f"needs at least one condition ({', '.join(known)})")
    words = [
        ch.choice(item, index(path, i) if isinstance(node, Seq) else path, "", known, "condition")
        for i, item in enumerate(nodes)
    ]
    return tuple(dict.fromkeys(When(word) for word in words if word))


def _what(ch: Checker, node: Node, path: str, scope: ph.Scope) -> Action | None:
    picked = ch.one_key(node, path, _ACTIONS, "action")
    if picked is None:
        return None
    kind, value = picked
    path = child(path, kind)
    if kind == "say":
        return Say(ph.checked_text(ch, value, path, scope, most=MAX_SENTENCE_CHARS))
    if kind == "wait":
        if not isinstance(value, Map):
            return Wait(ch.number(value, path, 0.0))
        f = ch.fields(value, path, ("seconds", "say"), required=("seconds",))
        seconds = ch.number(f.get("seconds"), child(path, "seconds"), 0.0)
        return Wait(seconds, ph.optional_text(ch, f, "say", path, scope))
    if kind == "count":
        f = ch.fields(value, path, ("to", "tempo", "say"), required=("to",))
        to = (
            ph.whole(ch, f["to"], child(path, "to"), scope, most=MAX_COUNT, what="a whole number")
            if "to" in f
            else None
        )
        tempo = ph.seconds(ch, f["tempo"], child(path, "tempo"), scope) if "tempo" in f else None
        return Count(to or 1, tempo or 3.0, ph.optional_text(ch, f, "say", path, scope))
    if kind == "light":
        ambience = parse_ambience(ch, value, path)
        return None if ambience is None else Light(ambience)
    f = ch.fields(value, path, (*_ROUNDS_KEYS, "do"), required=("do",))
    times, var, values, inner = _rounds(ch, value, f, path, scope)
    return Repeat(_actions(ch, f.get("do"), child(path, "do"), inner), times, var, values)
