"""CloudFormation intrinsic functions, resolved against what the embedded deploy created.

Supports Ref, Fn::GetAtt, Fn::Join, Fn::Sub (both forms), Fn::ImportValue, Fn::Select, Fn::Split,
Fn::If / Fn::Equals / Fn::Not / Fn::And / Fn::Or / Condition, and the pseudo parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property is dropped
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvedReference(KeyError):
    """A template refers to something the embedded deploy has not created (or does not know)."""


@dataclass
class StackScope:
    """What a template's intrinsics can see: its pseudo parameters, resources, exports, conditions."""

    stack_name: str
    account: str
    region: str
    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> GetAtt values
    exports: dict[str, Any] = field(default_factory=dict)  # shared by every stack of the assembly
    conditions: dict[str, Any] = field(default_factory=dict)

    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/local"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    def ref(self, name: str) -> Any:
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvedReference(f"{self.stack_name}: Ref {name} is not deployed")

    def get_att(self, name: str, attribute: str) -> Any:
        values = self.attributes.get(name)
        if values is None or attribute not in values:
            raise UnresolvedReference(f"{self.stack_name}: Fn::GetAtt {name}.{attribute} is not known")
        return values[attribute]


def resolve(value: Any, scope: StackScope) -> Any:
    """`value` with every intrinsic replaced by its value (AWS::NoValue entries dropped)."""
    if isinstance(value, list):
        items = (resolve(item, scope) for item in value)
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        function = _FUNCTIONS.get(key)
        if function is not None:
            return function(arg, scope)
    resolved = {key: resolve(item, scope) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def _ref(arg: str, scope: StackScope) -> Any:
    return scope.ref(arg)


def _get_att(arg: Any, scope: StackScope) -> Any:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    name, attribute = resolve(arg, scope)
    return scope.get_att(name, attribute)


def _join(arg: list, scope: StackScope) -> str:
    delimiter, items = arg
    return str(resolve(delimiter, scope)).join(str(item) for item in resolve(items, scope))


def _sub(arg: Any, scope: StackScope) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], scope))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            return str(scope.get_att(*name.split(".", 1)))
        return str(scope.ref(name))

    return _SUB.sub(replace, text).replace("${!", "${")


def _import_value(arg: Any, scope: StackScope) -> Any:
    name = resolve(arg, scope)
    if name not in scope.exports:
        raise UnresolvedReference(f"{scope.stack_name}: Fn::ImportValue {name} is not exported")
    return scope.exports[name]


def _select(arg: list, scope: StackScope) -> Any:
    index, items = resolve(arg, scope)
    return items[int(index)]


def _split(arg: list, scope: StackScope) -> list[str]:
    delimiter, text = resolve(arg, scope)
    return str(text).split(delimiter)


def _if(arg: list, scope: StackScope) -> Any:
    condition, when_true, when_false = arg
    return resolve(when_true if condition_value(condition, scope) else when_false, scope)


def _equals(arg: list, scope: StackScope) -> bool:
    left, right = resolve(arg, scope)
    return left == right


def _not(arg: list, scope: StackScope) -> bool:
    return not _truth(arg[0], scope)


def _and(arg: list, scope: StackScope) -> bool:
    return all(_truth(item, scope) for item in arg)


def _or(arg: list, scope: StackScope) -> bool:
    return any(_truth(item, scope) for item in arg)


def _condition(arg: str, scope: StackScope) -> bool:
    return condition_value(arg, scope)


def _truth(value: Any, scope: StackScope) -> bool:
    return bool(resolve(value, scope))


def condition_value(name: str, scope: StackScope) -> bool:
    if name not in scope.conditions:
        raise UnresolvedReference(f"{scope.stack_name}: condition {name} is not defined")
    value = scope.conditions[name]
    if not isinstance(value, bool):
        value = scope.conditions[name] = _truth(value, scope)
    return value


_FUNCTIONS: dict[str, Callable[[Any, StackScope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::ImportValue": _import_value,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Condition": _condition,
}


def references(value: Any) -> Iterator[str]:
    """Logical ids a value refers to through Ref, Fn::GetAtt or Fn::Sub (for deploy ordering)."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                yield arg
            elif key == "Fn::GetAtt":
                yield (arg.split(".", 1) if isinstance(arg, str) else arg)[0]
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                yield from (m.group(1).split(".", 1)[0].strip() for m in _SUB.finditer(text))
                yield from references(arg if isinstance(arg, str) else arg[1])
            else:
                yield from references(arg)
