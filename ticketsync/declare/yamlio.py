"""Reading YAML safely: the only module that imports ``yaml``.

A ticket file is untrusted input (it arrives in pull requests), so reading one must have a
bounded cost and must never construct anything but plain data. libyaml's C parser does the
work; the checks around it are arranged so that a valid file pays almost nothing extra:

* size cap and strict UTF-8 before parsing;
* nesting depth: libyaml's composer recurses in C and *crashes the process* on very deep
  input, so depth must be proven bounded before composing. A scan at C speed (regex and
  ``bytes`` methods) gives an upper bound; only when that bound is too high are the events
  walked one by one to find the real depth and where it goes too deep;
* duplicate keys, non-string keys and tags outside plain data are refused while
  constructing (PyYAML silently keeps the last duplicate; we must not);
* aliases: constructed objects are shared, but anything that walks them later (schema
  check, JSON) pays the *expanded* size, so an alias bomb is refused by counting it.

The composed node tree is kept on the :class:`Document`: errors are located from it, and
the original text of a scalar explains YAML's implicit types (``title: yes`` is a boolean).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Container, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from ticketsync.errors import InputError
from ticketsync.model import Location, Problem

try:  # libyaml is ~10x faster; the pure-Python parser is a correct fallback.
    from yaml import CSafeLoader as _BaseLoader
    from yaml._yaml import CParser as _EventParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]
    from yaml.parser import Parser as _EventParser  # type: ignore[assignment]

JsonPath = tuple[str | int, ...]

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
#: Nodes that aliases may add on top of the document's own (an alias bomb adds billions).
ALIAS_BUDGET = 100_000

_TAG = "tag:yaml.org,2002:"
# Plain data only: no timestamps/binary/sets/omap (not JSON) and nothing from python/.
_ALLOWED_TAGS = {_TAG + name for name in ("null", "bool", "int", "float", "str", "seq", "map")}
_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"
_TYPE_NAMES = {
    _TAG + "null": "null",
    _TAG + "bool": "a boolean",
    _TAG + "int": "a number",
    _TAG + "float": "a number",
}

# Depth bound, block part: in a chain of nested block collections the start column grows
# at least every second level, and a collection starts either at a line's indentation or
# after a run of indicators/properties on that line (``- - x``, ``- &a x: y``). A line whose
# prefix of that kind reaches _BLOCK_PREFIX columns makes the bound too weak: walk events.
_BLOCK_PREFIX = 24
_DEEP_BLOCK = re.compile(
    rb"(?m)^(?:[ \t]|[-?:](?=[ \t\r\n])|[&!][^ \t\r\n]*)" + rb"{%d}" % _BLOCK_PREFIX
)
_FLOW_LEVELS = MAX_DEPTH - 2 * (_BLOCK_PREFIX + 1)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNER_PAIR = re.compile(rb"\[\]|\{\}")


def _without(tags: set[str]) -> dict[Any, list[tuple[str, Any]]]:
    return {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in tags]
        for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    }


class _RefusedError(ConstructorError):
    """A located refusal raised while constructing (converted to a Problem)."""


class _Loader(_BaseLoader):
    # Dates stay strings (JSON has none); ``<<`` stays a plain key, reported as an unknown
    # field, because merge keys would need a Python pass over every mapping.
    yaml_implicit_resolvers = _without({_TAG + "timestamp", _TAG + "merge"})
    yaml_constructors: ClassVar[dict[Any, Any]] = {
        tag: func for tag, func in SafeConstructor.yaml_constructors.items() if tag in _ALLOWED_TAGS
    }
    yaml_multi_constructors: ClassVar[dict[Any, Any]] = {}
    _first_char = yaml_implicit_resolvers

    def construct_undefined(self, node: Node) -> Any:
        raise _RefusedError(
            None,
            None,
            f"tag {str(node.tag).replace(_TAG, '!!')} is not allowed: ticket files hold plain"
            " data only",
            node.start_mark,
        )

    # The two methods below are the hot path: most nodes are plain strings, and building
    # them through construct_object (memo table, recursion guards, dispatch) costs more than
    # the C parse. A str-tagged scalar constructs to its text, so take it directly; plain
    # maps and lists recurse directly too. That recursion is bounded because parse() proves
    # the depth bounded before composing and checks aliases before constructing (an alias
    # is constructed again where it is used, so an alias bomb must be refused first).

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # BaseConstructor's, without SafeConstructor's merge-key pass (merge keys are off).
        mapping: dict[Any, Any] = {}
        construct = self.construct_object
        for key_node, value_node in node.value:
            if key_node.tag == _STR and key_node.__class__ is ScalarNode:
                key = key_node.value
            else:
                key = construct(key_node, deep=deep)
                if not isinstance(key, Hashable):
                    raise _RefusedError(None, None, "a key must be a string", key_node.start_mark)
            if type(key) is not str or key in mapping:
                self._bad_key(node, key_node, key)
            mapping[key] = self._value(value_node)
        return mapping

    def construct_sequence(self, node: SequenceNode, deep: bool = False) -> list[Any]:
        value = self._value
        return [value(child) for child in node.value]

    def _value(self, node: Node) -> Any:
        kind, tag = node.__class__, node.tag
        if kind is ScalarNode and tag == _STR:
            return node.value
        if kind is MappingNode and tag == _MAP:
            return self.construct_mapping(node)  # type: ignore[arg-type]
        if kind is SequenceNode and tag == _SEQ:
            return self.construct_sequence(node)  # type: ignore[arg-type]
        return self.construct_object(node)

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        # Resolver.resolve without path resolvers (unused): called once per node by libyaml.
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in self._first_char.get(value[:1] if value else "", ()):
                    if regexp.match(value):
                        return str(tag)
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    def _bad_key(self, node: MappingNode, key_node: Node, key: object) -> None:
        if type(key) is not str:
            kind = _TYPE_NAMES.get(key_node.tag, "not a string")
            text = key_node.value if isinstance(key_node, ScalarNode) else "?"
            raise _RefusedError(
                None,
                None,
                f'key {text} is read as {kind}; keys must be strings: quote it ("{text}")',
                key_node.start_mark,
            )
        first = next(k for k, _ in node.value if self.construct_object(k) == key)
        mark = first.start_mark
        raise _RefusedError(
            None,
            None,
            f"duplicate key '{key}' (first at line {mark.line + 1}, column {mark.column + 1})",
            key_node.start_mark,
        )


# Without a None entry, PyYAML would build an unknown-tagged node as a plain list/dict/str.
_Loader.yaml_constructors[None] = _Loader.construct_undefined


@dataclass
class Document:
    """One parsed file: its data, its bytes, and its node tree for locating errors."""

    file: str
    text: bytes
    data: Any
    root: Node | None

    def node(self, path: JsonPath, *, key: bool = False) -> Node | None:
        """The node at ``path`` (or, with ``key``, the key node naming its last step)."""
        node = self.root
        for depth, step in enumerate(path):
            if isinstance(node, MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode) and key_node.value == step:
                        if key and depth == len(path) - 1:
                            return key_node
                        node = value_node
                        break
                else:
                    return node if key else None
            elif isinstance(node, SequenceNode) and isinstance(step, int):
                if not 0 <= step < len(node.value):
                    return None
                node = node.value[step]
            else:
                return None
        return node

    def locate(self, path: JsonPath, *, key: bool = False) -> Location:
        """Where ``path`` is in the file: the deepest node of it that exists."""
        for end in range(len(path), -1, -1):
            node = self.node(path[:end], key=key and end == len(path))
            if node is not None:
                return _location(self.file, node.start_mark)
        return Location(self.file)

    def key_locations(self, path: JsonPath) -> dict[str, Location]:
        """For the mapping at ``path``: each (string) key -> where that key is written."""
        node = self.node(path)
        if not isinstance(node, MappingNode):
            return {}
        return {
            key.value: _location(self.file, key.start_mark)
            for key, _ in node.value
            if isinstance(key, ScalarNode)
        }

    def field_locations(
        self, path: JsonPath, field: str, keys: Container[str]
    ) -> dict[str, Location]:
        """For the mapping at ``path``: for each entry of ``keys`` whose value is a mapping
        holding ``field``, where that field's value is written (``parent: x`` -> ``x``).

        One pass over the mapping, so that a project's many problems are located at the
        cost of loading it once, not of reading a file again per problem.
        """
        node = self.node(path)
        if not isinstance(node, MappingNode):
            return {}
        found: dict[str, Location] = {}
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.value in keys
                and isinstance(value_node, MappingNode)
            ):
                for name_node, field_node in value_node.value:
                    if isinstance(name_node, ScalarNode) and name_node.value == field:
                        found[key_node.value] = _location(self.file, field_node.start_mark)
        return found

    def implicit(self, path: JsonPath) -> tuple[str, str] | None:
        """For an unquoted scalar that YAML read as a non-string: (its text, what it became).

        ``title: yes`` gives ``("yes", "a boolean")``, ``project_id: 001`` ``("001", "a
        number")``: the hint to quote it.
        """
        node = self.node(path)
        # libyaml marks a plain scalar with style "", the pure-Python parser with None.
        if isinstance(node, ScalarNode) and not node.style and node.tag in _TYPE_NAMES:
            return str(node.value), _TYPE_NAMES[node.tag]
        return None


def read_document(path: Path, file: str, *, max_bytes: int = MAX_BYTES) -> Document:
    """Read and parse the YAML file ``path``, named ``file`` in messages.

    Raises :class:`InputError` with a located problem for anything that is not one
    well-formed document of plain data within the size and depth bounds.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _problem(file, f"file is too large ({size:,} bytes; the limit is {max_bytes:,})")
        text = path.read_bytes()
    except OSError as exc:
        raise _problem(file, f"cannot read: {exc.strerror or exc}") from None
    return parse(text, file, max_bytes=max_bytes)


def parse(text: bytes, file: str, *, max_bytes: int = MAX_BYTES) -> Document:
    """Parse ``text`` (see :func:`read_document`)."""
    if len(text) > max_bytes:
        raise _problem(file, f"file is too large ({len(text):,} bytes; the limit is {max_bytes:,})")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text.count(b"\n", 0, exc.start) + 1
        start = text.rfind(b"\n", 0, exc.start) + 1
        col = len(text[start : exc.start].decode("utf-8", "replace")) + 1
        raise _problem(
            file, f"not UTF-8: byte 0x{text[exc.start]:02x} cannot be decoded", line, col
        ) from None
    if _may_be_deep(text):
        _check_depth(text, file)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is not None and b"*" in text:  # no '*', no alias: skip the walk
            _check_aliases(root, file)  # before constructing, which expands aliases
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise _marked(file, exc, text) from None
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml errors carry marks
        raise _problem(file, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return Document(file, text, data, root)


def _may_be_deep(text: bytes) -> bool:
    """Whether ``text`` might nest deeper than MAX_DEPTH (False is a proof it does not)."""
    if _DEEP_BLOCK.search(text):
        return True
    brackets = text.translate(None, _NOT_BRACKETS)
    for _ in range(_FLOW_LEVELS):  # each pass peels one level of balanced brackets
        if not brackets:
            return False
        brackets = _INNER_PAIR.sub(b"", brackets)
    return bool(brackets)


def _check_depth(text: bytes, file: str) -> None:
    """Walk the events (libyaml's parser does not recurse) to refuse deep nesting."""
    try:
        _walk_depth(_EventParser(text), file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if "maximum nesting depth" not in str(exc.problem) or mark is None:
            raise _marked(file, exc, text) from None
        # Newer libyaml bundles (PyYAML 6.0.4) stop at their own flow-depth limit while
        # scanning ahead, before the first event. Our limit is far lower, so it is crossed
        # before that mark: walk the text up to there with the pure-Python parser (no
        # recursion, no such limit), so the message and location do not depend on which
        # libyaml PyYAML bundles. That parser's scan-ahead is quadratic in open flow levels,
        # so it reads growing prefixes: a cut that ends mid-token is just a parse error.
        chars = text.decode("utf-8")
        size = 128
        while True:
            with contextlib.suppress(yaml.YAMLError):
                _walk_depth(yaml.SafeLoader(chars[:size]), file)
            if size > mark.index:  # pragma: no cover - the limit is crossed before the mark
                raise _marked(file, exc, text) from None
            size *= 2


def _walk_depth(parser: Any, file: str) -> None:
    """Raise a located problem where collections nest deeper than MAX_DEPTH."""
    depth = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    raise _problem(file, f"nesting is deeper than {MAX_DEPTH} levels", line, col)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        parser.dispose()


def _check_aliases(root: Node, file: str) -> None:
    """Refuse a document whose aliases expand it by more than ALIAS_BUDGET nodes."""
    sizes: dict[int, int] = {}
    unique = 0
    # Depth is bounded by now, so recursion is safe; a node on the current path seen again
    # is a recursive alias, which JSON cannot hold.
    active: set[int] = set()

    def size(node: Node) -> int:
        nonlocal unique
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in active:
            raise _problem(file, "recursive alias: a node contains itself", *_line_col(node))
        active.add(id(node))
        unique += 1
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(id(node))
        sizes[id(node)] = total
        if total - unique > ALIAS_BUDGET:
            raise _problem(
                file,
                f"aliases expand the document by more than {ALIAS_BUDGET:,} nodes"
                " (an alias bomb?): use fewer aliases",
                *_line_col(node),
            )
        return total

    size(root)


def _char_at(text: bytes, line: int, column: int) -> str:
    lines = text.split(b"\n", line + 1)
    if line >= len(lines):
        return ""
    chars = lines[line].decode("utf-8", "replace")
    return chars[column] if column < len(chars) else ""


def _line_col(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _location(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _problem(file: str, message: str, line: int = 1, col: int = 1) -> InputError:
    return InputError([Problem(Location(file, line, col), "", message)])


def _marked(file: str, exc: yaml.MarkedYAMLError, text: bytes) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if isinstance(exc, _RefusedError):
        message = problem
    elif "expected a single document" in f"{exc.context} {problem}":
        message = "more than one YAML document ('---'): a ticket file holds one document"
    elif mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        message = "tab character: YAML indents with spaces only; use spaces"
    else:
        context = f"{exc.context} " if exc.context and exc.context != problem else ""
        message = f"invalid YAML: {context}{problem}".replace("\n", " ")
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return _problem(file, message, line, col)


try:  # libyaml's emitter writes the same text about 3.5 times faster (an export of 10k)
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]


class _Dumper(_BaseDumper):
    """Plain data out, in the shape people write: block style, multi-line text as ``|``."""


def _str(dumper: Any, value: str) -> Any:
    # A literal block keeps a description readable; it cannot hold tabs, trailing spaces
    # or other characters YAML would mangle, and those stay quoted (exact either way).
    if (
        "\n" in value.rstrip("\n")
        and all(ch == "\n" or ch.isprintable() for ch in value)  # no tab, no control
        and all(line == line.rstrip(" ") for line in value.split("\n"))
    ):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _str)


def dump(data: Any, *, header: str = "") -> str:
    """``data`` (plain dicts, lists, strings, numbers) as YAML text that :func:`parse` reads
    back equal: quoting wherever YAML would read a string as something else (``yes``,
    ``123``, ``2024-01-01``), keys in the order given, unicode as is. ``header``: comment
    lines put first."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + text
