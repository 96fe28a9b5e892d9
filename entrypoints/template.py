"""Reads infra/template.yaml: CloudFormation's short-form tags become plain dicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# A built wheel carries a copy of infra/template.yaml in this package (setup.py puts it
# there); a source checkout, editable install included, reads infra/ itself.
PACKAGED_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
SOURCE_TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "template.yaml"
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
