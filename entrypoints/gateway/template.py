"""Reads infra/template.yaml: CloudFormation's short-form tags become plain dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

# A built wheel carries a copy of infra/template.yaml in this package (setup.py puts it
# there); a source checkout, editable install included, reads infra/ itself.
PACKAGED_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
SOURCE_TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
DEFAULT_TEMPLATE = PACKAGED_TEMPLATE if PACKAGED_TEMPLATE.is_file() else SOURCE_TEMPLATE

_SHORT_FORMS = (
    "Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr", "Condition",
)


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands `!Ref x` as `{"Ref": "x"}`, `!GetAtt a.b` as a list, etc."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    key = "Ref" if tag == "Ref" or tag == "Condition" else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in _SHORT_FORMS:
    _TemplateLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: str | Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_TemplateLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return document


def table_definition(
    template: dict[str, Any], logical_id: str = "ConnectionsTable"
) -> dict[str, Any]:
    """The table's CreateTable arguments (key schema, attributes, billing), minus CFN-only parts."""
    properties = template["Resources"][logical_id]["Properties"]
    return {
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        **(
            {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
            if "GlobalSecondaryIndexes" in properties
            else {}
        ),
    }


def ttl_attribute(template: dict[str, Any], logical_id: str = "ConnectionsTable") -> str:
    ttl = template["Resources"][logical_id]["Properties"]["TimeToLiveSpecification"]
    return str(ttl["AttributeName"])


_NO_VALUE = object()


def with_parameters(
    template: dict[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The template as a stack with these parameter values would have it: `Conditions`
    evaluated, resources and outputs under a false condition left out, `Fn::If` and
    `AWS::NoValue` resolved. Other intrinsics are kept as they are."""
    declared, overrides = template.get("Parameters", {}), dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ValueError(f"the template has no parameter {', '.join(unknown)}")
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    values.update({name: str(value) for name, value in overrides.items()})
    conditions = _Conditions(template.get("Conditions", {}), values)
    resolved = {key: value for key, value in template.items() if key != "Conditions"}
    resolved["Parameters"] = {
        name: {**spec, "Default": overrides[name]} if name in overrides else spec
        for name, spec in declared.items()
    }
    for section in ("Resources", "Outputs"):
        if section in template:
            resolved[section] = {
                name: conditions.resolve({k: v for k, v in body.items() if k != "Condition"})
                for name, body in template[section].items()
                if "Condition" not in body or conditions.holds(body["Condition"])
            }
    return resolved


class _Conditions:
    def __init__(self, declared: Mapping[str, Any], values: Mapping[str, str]) -> None:
        self._declared, self._values = declared, values
        self._known: dict[str, bool] = {}

    def holds(self, name: str) -> bool:
        if name not in self._known:
            self._known[name] = self._evaluate(self._declared[name])
        return self._known[name]

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if "Fn::If" in node:
                name, when_true, when_false = node["Fn::If"]
                return self.resolve(when_true if self.holds(name) else when_false)
            if node == {"Ref": "AWS::NoValue"}:
                return _NO_VALUE
            pairs = ((key, self.resolve(value)) for key, value in node.items())
            return {key: value for key, value in pairs if value is not _NO_VALUE}
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item is not _NO_VALUE]
        return node

    def _evaluate(self, node: Any) -> bool:
        (function, argument), = node.items()
        if function == "Ref":  # the loader reads `!Condition X` as {"Ref": X}
            return self.holds(argument)
        if function == "Fn::Equals":
            left, right = (self._value(side) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(part) for part in argument)
        if function == "Fn::Or":
            return any(self._evaluate(part) for part in argument)
        raise ValueError(f"cannot evaluate the condition function {function}")

    def _value(self, node: Any) -> str:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return self._values[node["Ref"]]
        return str(node)
