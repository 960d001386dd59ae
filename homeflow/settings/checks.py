"""Typed reads of YAML nodes: each reports a located problem and falls back to a default."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar, overload
from urllib.parse import urlsplit

from homeflow.settings.problems import Problem, child, hint, quote
from homeflow.settings.yamlnodes import Map, Mark, Node, Scalar, Seq, problem

T = TypeVar("T")


def describe(node: Node) -> str:
    """What a node holds, for "expected X, got Y" messages."""
    if isinstance(node, Map):
        return "a mapping" if node.entries else "an empty mapping"
    if isinstance(node, Seq):
        return "a list" if node.items else "an empty list"
    if node.origin:
        return f"the value of {node.origin}"
    value = node.value
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return node.text
    return quote(node.text)


def too_long(length: int, most: int, unit: str = "characters") -> str:
    return f"too long ({length} {unit}); at most {most}"


def is_null(node: Node | None) -> bool:
    """True for an absent node or an empty or `~` value."""
    return node is None or (isinstance(node, Scalar) and node.value is None)


class Checker:
    """Reads values out of nodes into `problems`, so that every problem in a file is found in one pass."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def report(self, at: Node | Mark, path: str, message: str) -> None:
        """Record a problem at a node (or a mark), unless the reader refused that value already."""
        if isinstance(at, Scalar) and at.reported:
            return
        problem(self.problems, at if isinstance(at, Mark) else at.mark, path, message)

    def fields(
        self, node: Node | None, path: str, known: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, Node]:
        """The values of a mapping with a fixed set of keys; empty values count as not given."""
        if is_null(node):
            if node is not None:
                for name in required:
                    self.report(node, child(path, name), "missing (required)")
            return {}
        assert node is not None
        if not isinstance(node, Map):
            self.report(node, path, f"expected a mapping, got {describe(node)}")
            return {}
        found: dict[str, Node] = {}
        for name, (key, value) in node.entries.items():
            if name not in known:
                self.report(key, child(path, name), f"unknown key {quote(name)}{hint(name, known)}")
            elif is_null(value) and name in required and not (isinstance(value, Scalar) and value.reported):
                self.report(key, child(path, name), "needs a value")
            elif not is_null(value):
                found[name] = value
        for name in required:
            if name not in node.entries:
                self.report(node, child(path, name), "missing (required)")
        return found

    def entries(self, node: Node | None, path: str) -> list[tuple[Scalar, Node]]:
        """The keys and values of a mapping whose keys are names chosen by the user."""
        if is_null(node):
            return []
        assert node is not None
        if not isinstance(node, Map):
            self.report(node, path, f"expected a mapping, got {describe(node)}")
            return []
        return list(node.entries.values())

    def items(self, node: Node | None, path: str) -> list[Node] | None:
        """The items of a list ([] when not given), or None if it is not a list."""
        if is_null(node):
            return []
        assert node is not None
        if not isinstance(node, Seq):
            self.report(node, path, f"expected a list, got {describe(node)}")
            return None
        return list(node.items)

    def one_key(self, node: Node, path: str, known: Sequence[str], what: str) -> tuple[str, Node] | None:
        """The single key of a mapping naming one of several kinds (an action, a protocol), and its value."""
        choices = ", ".join(known)
        if not isinstance(node, Map) or not node.entries:
            self.report(node, path, f"expected one {what} key ({choices}), got {describe(node)}")
            return None
        if len(node.entries) > 1:
            # Keys as key paths show them: quoted when they would break the one-line message.
            got = ", ".join(child("", name) for name in node.entries)
            self.report(node, path, f"expected exactly one {what}, got {got}")
            return None
        ((name, (key, value)),) = node.entries.items()
        if name not in known:
            self.report(key, child(path, name), f"unknown {what} {quote(name)}{hint(name, known)}")
            return None
        return name, value

    @overload
    def text(
        self, node: Node | None, path: str, default: str, *, empty_ok: bool = ..., most: int | None = ...
    ) -> str: ...
    @overload
    def text(
        self,
        node: Node | None,
        path: str,
        default: None = ...,
        *,
        empty_ok: bool = ...,
        most: int | None = ...,
    ) -> str | None: ...
    def text(
        self,
        node: Node | None,
        path: str,
        default: str | None = None,
        *,
        empty_ok: bool = False,
        most: int | None = None,
    ) -> str | None:
        """Text as written, at most `most` characters; numbers and words like `on` are taken as the text
        they were written as."""
        if node is None:
            return default
        if not isinstance(node, Scalar) or node.value is None:
            self.report(node, path, f"expected text, got {describe(node)}")
            return default
        if not empty_ok and not node.text.strip():
            self.report(node, path, "must not be empty")
            return default
        if most is not None and len(node.text) > most:
            self.report(node, path, too_long(len(node.text), most))
            return default
        return node.text

    def integer(
        self,
        node: Node | None,
        path: str,
        default: T,
        *,
        lo: int,
        hi: int | None = None,
        what: str = "a whole number",
    ) -> int | T:
        """A whole number in lo..hi (booleans are not numbers)."""
        if node is None:
            return default
        value = node.value if isinstance(node, Scalar) else None
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(node, path, f"expected {what}, got {describe(node)}")
            return default
        if value < lo or (hi is not None and value > hi):
            limits = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            self.report(node, path, f"must be {limits}, got {value}")
            return default
        return value

    def number(
        self,
        node: Node | None,
        path: str,
        default: T,
        *,
        lo: float = 0,
        above: bool = False,
        hi: float | None = None,
        what: str = "seconds",
    ) -> float | T:
        """A finite number >= lo (or > lo when `above`), and <= hi."""
        if node is None:
            return default
        value = node.value if isinstance(node, Scalar) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.report(node, path, f"expected {what}, got {describe(node)}")
            return default
        if value < lo or (above and value <= lo):
            self.report(node, path, f"must be {'>' if above else '>='} {lo:g}, got {value:g}")
            return default
        if hi is not None and value > hi:
            self.report(node, path, f"must be at most {hi:g}, got {value:g}")
            return default
        return float(value)

    def url(self, node: Node | None, path: str, example: str) -> str | None:
        """An http(s) URL without query or fragment, trailing slash removed; `example` shows the form."""
        text = self.text(node, path)
        if node is None or text is None:
            return None
        try:
            url = urlsplit(text)
            url.port  # noqa: B018 -- parsing the port is what validates it
        except ValueError as error:
            self.report(node, path, f"not a URL: {error}")
            return None
        if url.scheme not in ("http", "https") or not url.hostname:
            self.report(node, path, f"expected {example}, got {quote(text)}")
            return None
        if url.query or url.fragment:
            self.report(node, path, "must not have a ?query or #fragment")
            return None
        return text.rstrip("/")

    def boolean(self, node: Node | None, path: str, default: bool) -> bool:
        """`true` or `false`."""
        if node is None:
            return default
        value = node.value if isinstance(node, Scalar) else None
        if not isinstance(value, bool):
            self.report(node, path, f"expected true or false, got {describe(node)}")
            return default
        return value

    def choice(self, node: Node | None, path: str, default: str, known: Sequence[str], what: str) -> str:
        """One of a few words."""
        word = self.text(node, path)
        if word is None:
            return default
        if word not in known:
            assert node is not None
            self.report(node, path, f"unknown {what} {quote(word)}{hint(word, known)}")
            return default
        return word
