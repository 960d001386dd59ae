"""`{placeholders}` in routine text and numbers: checked against what is in scope, and how long a
text can get once they are filled in."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from homeflow.settings.checks import Checker, too_long
from homeflow.settings.limits import MAX_REPS, MAX_SENTENCE_CHARS, MAX_TIMES
from homeflow.settings.problems import child, hint, quote
from homeflow.settings.yamlnodes import Map, Node, Scalar

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# `{reps}`, `{max_reps}` and `{round}` are at most this many digits long.
NUMBER_WIDTH = len(str(max(MAX_REPS, MAX_TIMES)))


@dataclass(frozen=True, slots=True)
class Held:
    """What a placeholder in scope holds: a known whole number (a `for` list's largest, `low` its
    smallest), text, or (None) a number known only at run time; and the most characters it fills in."""

    value: int | str | None
    width: int
    low: int | None = None


Scope = dict[str, Held]


def whole(ch: Checker, node: Node, path: str, scope: Scope, *, most: int, what: str) -> int | str | None:
    """A whole number from 1 to `most`, or a "{variable}" holding one."""
    if is_placeholder(node):
        limits = f"between 1 and {most}"
        return number_variable(ch, node, path, scope, fits=lambda n: 1 <= n <= most, limits=limits)
    if is_bare_placeholder(ch, node, path):
        return None
    return ch.integer(node, path, None, lo=1, hi=most, what=what)


def seconds(ch: Checker, node: Node, path: str, scope: Scope) -> float | str | None:
    """A number of seconds > 0, or a "{variable}" holding one."""
    if is_placeholder(node):
        return number_variable(ch, node, path, scope, fits=lambda n: n > 0, limits="> 0")
    if is_bare_placeholder(ch, node, path):
        return None
    return ch.number(node, path, None, above=True)


def is_placeholder(node: Node) -> bool:
    return isinstance(node, Scalar) and isinstance(node.value, str) and bool(PLACEHOLDER.fullmatch(node.text))


def is_bare_placeholder(ch: Checker, node: Node | None, path: str) -> bool:
    """Report `{name}` written without quotes, which YAML reads as a mapping."""
    if not isinstance(node, Map) or len(node.entries) != 1:
        return False
    ((name, (_, value)),) = node.entries.items()
    if not isinstance(value, Scalar) or value.value is not None:
        return False
    ch.report(node, path, f'got a mapping; put placeholders in quotes: "{{{name}}}"')
    return True


def number_variable(
    ch: Checker, node: Node, path: str, scope: Scope, *, fits: Callable[[int], bool], limits: str
) -> str | None:
    assert isinstance(node, Scalar)
    name = node.text[1:-1]
    if name not in scope:
        ch.report(node, path, f"unknown placeholder {node.text}{hint(name, scope, braced)}")
        return None
    held = scope[name].value
    if isinstance(held, str):
        ch.report(node, path, f"{node.text} holds text ({quote(held)}), not a number")
        return None
    for number in (held, scope[name].low):
        if number is not None and not fits(number):
            ch.report(node, path, f"{node.text} is {number}; it must be {limits}")
            return None
    return node.text


def optional_text(ch: Checker, f: dict[str, Node], key: str, path: str, scope: Scope) -> str | None:
    return checked_text(ch, f[key], child(path, key), scope, most=MAX_SENTENCE_CHARS) if key in f else None


def checked_text(ch: Checker, node: Node | None, path: str, scope: Scope, *, most: int) -> str:
    """Text whose `{placeholders}` are all in scope, at most `most` characters once they are filled in."""
    if is_bare_placeholder(ch, node, path):
        return ""
    text = ch.text(node, path)
    if text is None:
        return ""
    assert node is not None
    if len(text) > 2 * most:  # too long however it is filled in: not worth parsing
        ch.report(node, path, too_long(len(text), most))
        return text
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        ch.report(node, path, f"{error}; write {{{{ or }}}} for a literal brace")
        return text
    unknown: list[str] = []
    filled = sum(len(literal) for literal, _, _, _ in parsed)
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        filled += scope[name].width if name in scope else 0
        if not NAME.fullmatch(name) or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            ch.report(node, path, f"placeholder {quote(shown)} must be a plain {{name}}")
        elif name not in scope and name not in unknown:
            unknown.append(name)
            ch.report(node, path, f"unknown placeholder {{{name}}}{hint(name, scope, braced)}")
    if filled > most and any(name is not None for _, name, _, _ in parsed):
        ch.report(node, path, f"too long once filled in (up to {filled} characters); at most {most}")
    elif filled > most:
        ch.report(node, path, too_long(filled, most))
    return text


def braced(name: str) -> str:
    return "{" + name + "}"
