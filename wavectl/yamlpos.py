"""YAML loading that remembers where every value came from (file, line, column)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Located:
    """A YAML document's data plus the position of each value, keyed by its path."""

    data: Any
    positions: dict[Loc, Position]
    file: str

    def position_of(self, loc: Loc) -> Position:
        """Position of `loc`, or of its closest ancestor present in the file (missing fields)."""
        for end in range(len(loc), -1, -1):
            found = self.positions.get(tuple(loc[:end]))
            if found is not None:
                return found
        return Position(self.file, 1, 1)


class YamlSyntaxError(ValueError):
    def __init__(self, position: Position, message: str):
        super().__init__(message)
        self.position = position
        self.message = message


def load_located(path: Path, display_name: str) -> Located:
    """Parse one YAML file. Syntax errors, text that is not UTF-8 or holds characters YAML forbids, and
    a key set twice in one mapping (YAML loaders silently keep the last) raise YamlSyntaxError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise YamlSyntaxError(Position(display_name, line, 1), "file is not UTF-8 text") from None
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, display_name) from None
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_duplicate_keys(node, display_name)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, display_name) from None
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. an unhashable key PyYAML lets through
        if isinstance(exc, YamlSyntaxError):
            raise
        raise YamlSyntaxError(Position(display_name, 1, 1), f"YAML not understood: {exc}") from None
    finally:
        loader.dispose()
    positions: dict[Loc, Position] = {}
    if node is not None:
        _collect(node, (), display_name, positions)
    return Located(data=data, positions=positions, file=display_name)


def _syntax_error(exc: yaml.YAMLError, file: str) -> YamlSyntaxError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
    else:  # a ReaderError: a character YAML does not allow
        mark, problem = None, str(getattr(exc, "reason", "") or exc).split("\n")[0]
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return YamlSyntaxError(Position(file, line, column), f"YAML syntax error: {problem}")


def _refuse_duplicate_keys(node: yaml.Node, file: str) -> None:
    """A mapping that sets one key twice is an error at the second key (naming the first's line)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode):
                    first = seen.get(key_node.value)
                    if first is not None:
                        first_line = first.start_mark.line + 1
                        raise YamlSyntaxError(
                            _mark(key_node, file),
                            f"duplicate key '{key_node.value}' (first set at line {first_line})",
                        )
                    seen[key_node.value] = key_node
                stack.append(value_node)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _mark(node: yaml.Node, file: str) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _collect(node: yaml.Node, loc: Loc, file: str, out: dict[Loc, Position]) -> None:
    out[loc] = _mark(node, file)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _collect(value_node, (*loc, str(key_node.value)), file, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect(item, (*loc, index), file, out)
