"""YAML read into nodes that remember where they came from, with `!secret` and `!env` resolved."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from homeflow.settings.limits import MAX_FILE_BYTES, MAX_VALUES
from homeflow.settings.problems import Problem, child, hint, index, quote

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(
    _STD + name for name in ("null", "bool", "int", "float", "str", "timestamp", "binary")
)
# Plain `<<` and `=` resolve to these tags; outside a merge they are just text.
_TEXT_TAGS = frozenset((_STD + "merge", _STD + "value"))
_REFERENCE_TAGS = ("!secret", "!env")


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in a file, 1-based."""

    file: str
    line: int
    column: int


@dataclass(frozen=True, slots=True, eq=False)
class Scalar:
    """A single value: `value` as YAML typed it, `text` as it was written; `origin` names a `!secret` or
    `!env` it came from, so problems never show it."""

    mark: Mark
    value: object
    text: str
    origin: str = ""
    # A value the reader refused (and reported): checks say nothing more about it.
    reported: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Seq:
    mark: Mark
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Map:
    """A mapping; keys are kept as written (so `on:` stays the text "on") with their own marks."""

    mark: Mark
    entries: dict[str, tuple[Scalar, Node]]


Node = Scalar | Seq | Map


class _Loader(yaml.SafeLoader):
    """A safe loader of our own, so constructors registered on SafeLoader elsewhere never apply."""


def problem(problems: list[Problem], mark: Mark, path: str, message: str) -> None:
    """Record a problem at `mark`."""
    problems.append(Problem(mark.file, mark.line, mark.column, path, message))


class References:
    """Resolves `!secret NAME` from a secrets file and `!env NAME` from an environment."""

    def __init__(self, secrets: Path | None, env: Mapping[str, str], problems: list[Problem]) -> None:
        # No secrets file while reading the secrets file itself: a secret cannot refer to another.
        self._path = secrets
        self._env = env
        self._problems = problems
        self._secrets: Map | None = None
        self._loaded = False

    def env(self, name: str, mark: Mark, path: str) -> str | None:
        """The environment variable `name`, or None once its absence is reported."""
        value = self._env.get(name)
        if value is None:
            problem(self._problems, mark, path, f"environment variable {quote(name)} is not set")
        return value

    def secret(self, name: str, mark: Mark, path: str) -> Node | None:
        """The secret `name`, or None once its absence is reported."""
        if self._path is None:
            problem(self._problems, mark, path, "a secret cannot refer to another secret")
            return None
        if not self._loaded:
            self._loaded = True
            self._secrets = self._load(self._path, mark, path)
        if self._secrets is None:
            return None
        entry = self._secrets.entries.get(name)
        if entry is None:
            known = self._secrets.entries.keys()
            problem(self._problems, mark, path, f"no secret {quote(name)} in {self._path}{hint(name, known)}")
            return None
        return entry[1]

    def _load(self, secrets: Path, mark: Mark, path: str) -> Map | None:
        if not secrets.is_file():
            problem(self._problems, mark, path, f"!secret needs {secrets}, which does not exist")
            return None
        node = read(secrets, str(secrets), self._problems, References(None, self._env, self._problems))
        if node is None or isinstance(node, Map):
            return node
        if isinstance(node, Scalar) and node.value is None:
            return Map(node.mark, {})
        problem(self._problems, node.mark, "", "a secrets file must be a mapping of names to values")
        return None


def read(path: Path, display: str, problems: list[Problem], refs: References) -> Node | None:
    """Read one YAML document; None (with problems recorded) if it cannot be read or parsed."""
    start = Mark(display, 1, 1)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # not more: the path may even be /dev/zero
        if len(data) > MAX_FILE_BYTES:
            problem(
                problems,
                start,
                "",
                f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB; is this the right file?",
            )
            return None
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()  # newlines as read_text has them
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        problem(problems, start, "", f"cannot read file: {reason}")
        return None
    try:
        root = _compose(text, display, problems, refs)
        if root is not None and _expanded_size(root, {}) > MAX_VALUES:
            message = f"more than {MAX_VALUES:,} values, counting each use of an alias (&name, *name)"
            problem(problems, root.mark, "", message)
            return None
        return root or Scalar(start, None, "")
    except yaml.MarkedYAMLError as error:
        where = error.problem_mark or error.context_mark
        mark = Mark(display, where.line + 1, where.column + 1) if where else start
        problem(problems, mark, "", _one_line(f"invalid YAML: {_reason(error)}"))
    except yaml.YAMLError as error:
        position = getattr(error, "position", None)
        mark = _mark_at(display, text, position) if isinstance(position, int) else start
        first_line = (str(error).splitlines() or ["not valid YAML"])[0]
        problem(problems, mark, "", _one_line(f"invalid YAML: {first_line}"))
    except RecursionError:
        problem(problems, start, "", "invalid YAML: nested too deeply")
    return None


def _compose(text: str, display: str, problems: list[Problem], refs: References) -> Node | None:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        return None if root is None else _Reader(display, loader, problems, refs).node(root, "")
    finally:
        loader.dispose()


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many values `node` holds with every alias expanded; an alias shares its node, so each
    node's size is computed once."""
    size = sizes.get(id(node))
    if size is None:
        if isinstance(node, Seq):
            size = 1 + sum(_expanded_size(item, sizes) for item in node.items)
        elif isinstance(node, Map):
            size = 1 + sum(1 + _expanded_size(value, sizes) for _, value in node.entries.values())
        else:
            size = 1
        sizes[id(node)] = size
    return size


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a name, a topic, a path or a sentence: characters no file, MQTT client or
    speech engine takes (YAML writes them as escapes, e.g. "\\0" or "\\ud800")."""
    if "\0" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not text"
    return None


def _reason(error: yaml.MarkedYAMLError) -> str:
    what, context = error.problem or "", error.context or ""
    if what and context:
        # PyYAML splits some sentences in two ("expected a single document", "but found another").
        return f"{context}, {what}" if what.startswith("but ") else f"{what} ({context})"
    return what or context or "not valid YAML"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _mark_at(display: str, text: str, position: int) -> Mark:
    before = text[:position]
    return Mark(display, before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1)


class _Reader:
    """Turns composed YAML nodes into `Node`s, reporting what it cannot take."""

    def __init__(self, file: str, loader: _Loader, problems: list[Problem], refs: References) -> None:
        self._file = file
        self._loader = loader
        self._problems = problems
        self._refs = refs
        # Aliases share nodes: convert each once, and notice aliases that contain themselves.
        self._done: dict[int, Node] = {}
        self._active: set[int] = set()

    def node(self, node: YamlNode, path: str) -> Node:
        done = self._done.get(id(node))
        if done is not None:
            return done
        mark = self._mark(node)
        if id(node) in self._active:
            problem(self._problems, mark, path, "an alias cannot contain itself")
            return Scalar(mark, None, "")
        self._active.add(id(node))
        try:
            result = self._convert(node, mark, path)
        finally:
            self._active.discard(id(node))
        self._done[id(node)] = result
        return result

    def _mark(self, node: YamlNode) -> Mark:
        return Mark(self._file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _convert(self, node: YamlNode, mark: Mark, path: str) -> Node:
        tag = node.tag
        if isinstance(node, ScalarNode):
            return self._scalar(node, mark, path)
        if tag in _REFERENCE_TAGS:
            problem(self._problems, mark, path, f"{tag} takes a name, not a {_kind(node)}")
        elif isinstance(node, SequenceNode):
            if tag == _STD + "seq":
                items = tuple(self.node(item, index(path, i)) for i, item in enumerate(node.value))
                return Seq(mark, items)
            self._unsupported(tag, mark, path)
        elif isinstance(node, MappingNode):
            if tag == _STD + "map":
                return self._mapping(node, mark, path)
            self._unsupported(tag, mark, path)
        return Scalar(mark, None, "")

    def _scalar(self, node: ScalarNode, mark: Mark, path: str) -> Node:
        text = str(node.value)
        if reason := text_problem(text):
            problem(self._problems, mark, path, reason)
            return Scalar(mark, None, "", reported=True)
        if node.tag in _REFERENCE_TAGS:
            return self._reference(node.tag, text.strip(), mark, path)
        if node.tag in _TEXT_TAGS:
            return Scalar(mark, text, text)
        if node.tag not in _SCALAR_TAGS:
            self._unsupported(node.tag, mark, path)
            return Scalar(mark, None, "")
        try:
            return Scalar(mark, self._loader.construct_object(node), text)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as error:
            reason = error.problem if isinstance(error, yaml.MarkedYAMLError) else str(error)
            problem(self._problems, mark, path, _one_line(f"invalid value {quote(text)}: {reason}"))
            return Scalar(mark, None, "")

    def _reference(self, tag: str, name: str, mark: Mark, path: str) -> Node:
        missing = Scalar(mark, None, "")
        if not name:
            problem(self._problems, mark, path, f"{tag} needs a name")
            return missing
        if tag == "!env":
            found = self._refs.env(name, mark, path)
            if found is not None and (reason := text_problem(found)):
                problem(self._problems, mark, path, f"environment variable {quote(name)} {reason}")
                return Scalar(mark, None, "", reported=True)
            return missing if found is None else self._implicit(found, mark, f"{tag} {_one_line(name)}")
        secret = self._refs.secret(name, mark, path)
        if isinstance(secret, Scalar):
            # The value is reported where it is used, not where it is kept.
            return Scalar(mark, secret.value, secret.text, f"{tag} {_one_line(name)}")
        return missing if secret is None else secret

    def _implicit(self, text: str, mark: Mark, origin: str) -> Scalar:
        """`text` typed as if written plainly in YAML, so `!env PORT` can give a number."""
        tag: str = self._loader.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        try:
            return Scalar(mark, self._loader.construct_object(ScalarNode(tag, text)), text, origin)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return Scalar(mark, text, text, origin)

    def _mapping(self, node: MappingNode, mark: Mark, path: str) -> Map:
        own: dict[str, tuple[Scalar, Node]] = {}
        merged: dict[str, tuple[Scalar, Node]] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _STD + "merge":
                self._merge(self.node(value_node, path), merged, path)
                continue
            key_mark = self._mark(key_node)
            if not isinstance(key_node, ScalarNode):
                problem(self._problems, key_mark, path, f"a key must be text, not a {_kind(key_node)}")
                continue
            text = str(key_node.value)
            if reason := text_problem(text):
                problem(self._problems, key_mark, path, f"a key {reason}")
                continue
            if text in own:
                first = own[text][0].mark.line
                problem(self._problems, key_mark, child(path, text), f"duplicate key (first on line {first})")
                continue
            own[text] = (Scalar(key_mark, text, text), self.node(value_node, child(path, text)))
        return Map(mark, {**merged, **own})

    def _merge(self, source: Node, into: dict[str, tuple[Scalar, Node]], path: str) -> None:
        sources = source.items if isinstance(source, Seq) else (source,)
        for each in sources:
            if not isinstance(each, Map):
                problem(self._problems, each.mark, path, "<< merges a mapping or a list of mappings")
                continue
            for key, entry in each.entries.items():
                # The first mapping named in a merge wins, as YAML specifies.
                into.setdefault(key, entry)

    def _unsupported(self, tag: str, mark: Mark, path: str) -> None:
        shown = "!!" + tag.removeprefix(_STD) if tag.startswith(_STD) else tag
        problem(self._problems, mark, path, f"unsupported tag {shown}")


def _kind(node: YamlNode) -> str:
    if isinstance(node, MappingNode):
        return "mapping"
    return "list" if isinstance(node, SequenceNode) else "value"
