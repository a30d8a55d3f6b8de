"""What the embedded deploy created: physical names by stack + logical id, and by resource type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeployedResource:
    stack: str  # the stack's name (e.g. acme-to-globex-control-plane)
    logical_id: str
    type: str  # CloudFormation type, e.g. AWS::DynamoDB::Table
    physical_id: str  # what `Ref` returns (table name, bucket name, function name, ARN, ...)
    attributes: dict[str, Any]  # what `Fn::GetAtt` returns
    properties: dict[str, Any]  # the template's properties with every intrinsic resolved
    emulated: bool = True  # False: the type has no local counterpart, only its names were made up

    @property
    def arn(self) -> str | None:
        return self.attributes.get("Arn")


@dataclass
class Resources:
    """Index of everything deployed from `cdk.out`, for the runner, the demo and tests."""

    items: list[DeployedResource] = field(default_factory=list)

    def add(self, resource: DeployedResource) -> None:
        self.items.append(resource)

    def get(self, stack: str, logical_id: str) -> DeployedResource:
        for item in self.items:
            if item.stack == stack and item.logical_id == logical_id:
                return item
        raise KeyError(f"{stack}/{logical_id} is not deployed")

    def of_type(self, resource_type: str, stack: str | None = None) -> list[DeployedResource]:
        return [r for r in self.items if r.type == resource_type and stack in (None, r.stack)]

    def names(self, resource_type: str, stack: str | None = None) -> list[str]:
        """Physical names (Ref values) of every resource of a type, e.g. all table names."""
        return [r.physical_id for r in self.of_type(resource_type, stack)]

    def find(self, resource_type: str, **properties: Any) -> DeployedResource:
        """The one resource of `resource_type` whose resolved properties include `properties`."""
        for item in self.of_type(resource_type):
            if all(item.properties.get(k) == v for k, v in properties.items()):
                return item
        raise KeyError(f"no {resource_type} with {properties}")

    def by_stack(self) -> dict[str, dict[str, DeployedResource]]:
        index: dict[str, dict[str, DeployedResource]] = {}
        for item in self.items:
            index.setdefault(item.stack, {})[item.logical_id] = item
        return index

    @property
    def tables(self) -> list[str]:
        return self.names("AWS::DynamoDB::Table")

    @property
    def buckets(self) -> list[str]:
        return self.names("AWS::S3::Bucket")

    @property
    def functions(self) -> dict[str, str]:
        """Function name -> the `Handler` it runs in-process."""
        return {r.physical_id: r.properties.get("Handler", "") for r in self.of_type("AWS::Lambda::Function")}

    @property
    def state_machines(self) -> dict[str, str]:
        """State machine name -> ARN."""
        return {r.attributes["Name"]: r.physical_id for r in self.of_type("AWS::StepFunctions::StateMachine")}

    @property
    def not_emulated(self) -> list[DeployedResource]:
        """Resources with no local counterpart (only names were made up, so references resolve)."""
        return [r for r in self.items if not r.emulated]
