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
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(Position(display_name, line, column), f"YAML syntax error: {problem}") from None
    finally:
        loader.dispose()
    positions: dict[Loc, Position] = {}
    if node is not None:
        _collect(node, (), display_name, positions)
    return Located(data=data, positions=positions, file=display_name)


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
