"""The template's SQS queues and the event source mappings that feed them to functions.

An `AWS::Lambda::EventSourceMapping` whose `EventSourceArn` names an `AWS::SQS::Queue` of
the template (SAM's `Events: {Type: SQS}` become such mappings in `sam.transform`) is what
`roomcast serve` emulates with `queues.py`: the queue's messages handed to the function in
batches of `BatchSize`, at most `ScalingConfig.MaximumConcurrency` at once, failed records
(`ReportBatchItemFailures`) redelivered after the queue's `VisibilityTimeout` and moved to
the `RedrivePolicy`'s dead-letter queue after `maxReceiveCount` receives. Mappings of other
sources (DynamoDB or Kinesis streams, Kafka, MQ) are not emulated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from roomcast.entrypoints.gateway.intrinsics import FUNCTION_TYPES, QUEUE_TYPE, Resolver
from roomcast.entrypoints.gateway.template import TemplateError, referenced_ids

MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
# SQS's and Lambda's defaults, where the template says nothing.
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_BATCH_SIZE = 10
# Lambda scales an SQS mapping without a MaximumConcurrency up to 1,000 at once; locally a
# few workers show concurrency without starving the gateway's own threads.
DEFAULT_LOCAL_CONCURRENCY = 5
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class QueueDefinition:
    logical_id: str
    name: str
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT
    delay_seconds: int = 0
    dead_letter: str | None = None  # the dead-letter queue's logical id
    max_receive_count: int | None = None
    fifo: bool = False


@dataclass(frozen=True)
class MappingDefinition:
    logical_id: str
    function: str  # the function's logical id
    queue: str  # the queue's logical id
    batch_size: int = DEFAULT_BATCH_SIZE
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    enabled: bool = True

    @property
    def concurrency(self) -> int:
        return self.maximum_concurrency or DEFAULT_LOCAL_CONCURRENCY


def _sqs_mappings(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """(logical id, properties, queue id) of each mapping that reads a queue of the template."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    for logical_id, resource in resources.items():
        if resource.get("Type") != MAPPING_TYPE:
            continue
        properties = resource.get("Properties", {})
        queues = [
            found for found in referenced_ids(properties.get("EventSourceArn"))
            if resources.get(found, {}).get("Type") == QUEUE_TYPE
        ]
        if len(queues) == 1:
            yield logical_id, properties, queues[0]


def mapping_functions(template: Mapping[str, Any]) -> list[str]:
    """The logical ids of the functions the template's SQS mappings invoke."""
    return [_function_of(template, logical_id, properties)
            for logical_id, properties, _ in _sqs_mappings(template)]


def _function_of(
    template: Mapping[str, Any], logical_id: str, properties: Mapping[str, Any]
) -> str:
    resources: Mapping[str, Any] = template.get("Resources", {})
    name = properties.get("FunctionName")
    named = [
        found for found in referenced_ids(name)
        if resources.get(found, {}).get("Type") in FUNCTION_TYPES
    ]
    if len(named) == 1:
        return named[0]
    if isinstance(name, str):  # a function's own FunctionName, or its ARN
        for function_id, resource in resources.items():
            own = resource.get("Properties", {}).get("FunctionName")
            if resource.get("Type") in FUNCTION_TYPES and isinstance(own, str) and (
                name == own or name.endswith(f":function:{own}")
            ):
                return function_id
    raise TemplateError(f"event source mapping {logical_id}: FunctionName names no function "
                        "of the template")


def event_source_mappings(
    template: Mapping[str, Any], resolver: Resolver
) -> list[MappingDefinition]:
    found = []
    for logical_id, properties, queue in _sqs_mappings(template):
        resolved = {
            key: resolver.resolve(properties[key], f"{logical_id}.{key}")
            for key in ("BatchSize", "Enabled", "FunctionResponseTypes", "ScalingConfig")
            if key in properties
        }
        scaling = resolved.get("ScalingConfig") or {}
        maximum = scaling.get("MaximumConcurrency") if isinstance(scaling, dict) else None
        found.append(MappingDefinition(
            logical_id=logical_id,
            function=_function_of(template, logical_id, properties),
            queue=queue,
            batch_size=_whole(resolved.get("BatchSize", DEFAULT_BATCH_SIZE), logical_id,
                              "BatchSize"),
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES
            in (resolved.get("FunctionResponseTypes") or []),
            maximum_concurrency=None if maximum is None else _whole(
                maximum, logical_id, "ScalingConfig.MaximumConcurrency"),
            enabled=str(resolved.get("Enabled", True)).lower() != "false",
        ))
    return found


def queue_definitions(template: Mapping[str, Any], resolver: Resolver) -> list[QueueDefinition]:
    """Every SQS queue of the template, its name as the stack would give it."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    names = {
        logical_id: resolver.physical_name(logical_id)
        for logical_id, resource in resources.items() if resource.get("Type") == QUEUE_TYPE
    }
    found = []
    for logical_id, name in names.items():
        properties = resources[logical_id].get("Properties", {})
        dead_letter, max_receives = _redrive(properties.get("RedrivePolicy"), names, resolver,
                                             logical_id)
        visibility = resolver.resolve(
            properties.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT),
            f"{logical_id}.VisibilityTimeout",
        )
        delay = resolver.resolve(properties.get("DelaySeconds", 0), f"{logical_id}.DelaySeconds")
        found.append(QueueDefinition(
            logical_id=logical_id,
            name=name,
            visibility_timeout=float(_whole(visibility, logical_id, "VisibilityTimeout", 0)),
            delay_seconds=_whole(delay, logical_id, "DelaySeconds", 0),
            dead_letter=dead_letter,
            max_receive_count=max_receives,
            fifo=name.endswith(".fifo"),
        ))
    return found


def _redrive(
    policy: Any, names: Mapping[str, str], resolver: Resolver, where: str
) -> tuple[str | None, int | None]:
    """The dead-letter queue's logical id and maxReceiveCount (a map, or its JSON text)."""
    if policy is None:
        return None, None
    target = None
    if isinstance(policy, dict) and "deadLetterTargetArn" in policy:
        referenced = [q for q in referenced_ids(policy["deadLetterTargetArn"]) if q in names]
        target = referenced[0] if referenced else None
    resolved = resolver.resolve(policy, f"{where}.RedrivePolicy")
    if isinstance(resolved, str):
        resolved = json.loads(resolved)
    if target is None:
        arn = str(resolved.get("deadLetterTargetArn", ""))
        target = next((q for q, name in names.items() if arn.endswith(f":{name}")), None)
    if target is None:
        raise TemplateError(f"{where}.RedrivePolicy: its deadLetterTargetArn is no queue of "
                            "the template")
    return target, _whole(resolved.get("maxReceiveCount", 10), where, "maxReceiveCount")


def _whole(value: Any, where: str, name: str, least: int = 1) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise TemplateError(f"{where}.{name}: {value!r} is not a whole number") from None
    if number < least:
        raise TemplateError(f"{where}.{name}: {number} is less than {least}")
    return number
