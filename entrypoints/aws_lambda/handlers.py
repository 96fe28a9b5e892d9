"""Lambda handlers: event -> ids and body -> one ChatService call -> {"statusCode", "body"}.

Nothing is built at import: the container (and every SDK client) comes to life on the first
invocation and is kept for the execution environment.
"""

from __future__ import annotations

import logging
from typing import Any

from roomcast.adapters.endpoints import endpoint_from_event, management_endpoint
from roomcast.adapters.paced_notifier import PacedNotifier
from roomcast.domain.errors import DomainError, ShardUndelivered, Unauthorized
from roomcast.domain.fanout import MalformedShard, Shard, rate_per_worker
from roomcast.domain.service import ChatService
from roomcast.entrypoints.aws_lambda import events
from roomcast.entrypoints.aws_lambda.authorizer import authorize
from roomcast.entrypoints.aws_lambda.events import MalformedEvent
from roomcast.entrypoints.aws_lambda.telemetry.instrumentation import (
    batch_outcome,
    current_tally,
    instrumented,
)
from roomcast.entrypoints.aws_lambda.telemetry.metering import MeteringNotifier
from roomcast.entrypoints.containers import Container, get_container
from roomcast.entrypoints.settings import ConfigurationError, check_room_access
from roomcast.ports import Notifier

log = logging.getLogger(__name__)

__all__ = ["authorize", "cleanup", "connect", "deliver", "disconnect", "message"]

Response = dict[str, Any]


@instrumented("connect")
def connect(event: Any, context: Any = None) -> Response:
    try:
        request = events.connect_request(event)
        service = _service(event)
        if request.authorized_user_id is None:  # else the authorizer checked the token
            check_room_access(get_container().config())
    except (MalformedEvent, ConfigurationError) as unusable:
        return _unusable(event, unusable)
    try:
        service.connect(
            request.connection_id,
            request.user_id,
            request.source_ip,
            request.user_agent,
            token=request.token,
            authorized_user_id=request.authorized_user_id,
            authorized_rooms=request.authorized_rooms,
        )
    except Unauthorized as refused:
        log.info("refused a connection: %s (%s)", refused, events.describe(event))
        return _response(401, "Unauthorized")
    except DomainError as refused:
        log.info("refused a connection: %s (%s)", refused.message, events.describe(event))
        return _response(refused.status_code, refused.message)
    except Exception:
        log.exception("could not record a connection (%s)", events.describe(event))
        return _response(500, "Failed to connect")
    return _response(200, "Connected") | events.subprotocol_answer(request)


@instrumented("disconnect")
def disconnect(event: Any, context: Any = None) -> Response:
    """Always 200: API Gateway ignores the answer and the socket is closed either way."""
    try:
        _service(event).disconnect(events.connection_id(event))
    except Exception:
        log.exception("disconnect failed (%s)", events.describe(event))
        current_tally().failed_quietly = True
    return _response(200, "Disconnected")


@instrumented("message")
def message(event: Any, context: Any = None) -> Response:
    """$default and every action route: the frame's own `action` decides what happens."""
    try:
        connection_id = events.connection_id(event)
        body = events.message_body(event)
        service = _service(event)
    except (MalformedEvent, ConfigurationError) as unusable:
        return _unusable(event, unusable)
    reply = service.handle(connection_id, body)
    return _response(reply.status_code, reply.body)


@instrumented("cleanup")
def cleanup(event: Any, context: Any = None) -> dict[str, int]:
    """The scheduled sweep; the EventBridge event itself carries nothing it needs."""
    container = get_container()
    endpoint = container.config.websocket_endpoint()
    if not endpoint:
        raise ConfigurationError("WEBSOCKET_ENDPOINT is required by the cleanup job")
    return _service_at(container, endpoint).sweep_stale().as_dict()


@instrumented("deliver", batch_outcome)
def deliver(event: Any, context: Any = None) -> dict[str, list[dict[str, str]]]:
    """The SQS worker: each record a shard of a big broadcast. A record that failed is named
    in `batchItemFailures` (the event source mapping's ReportBatchItemFailures), so SQS
    redelivers it alone, then dead-letters it after the queue's maxReceiveCount."""
    container = get_container()
    endpoint = container.config.websocket_endpoint()
    if not endpoint:
        raise ConfigurationError("WEBSOCKET_ENDPOINT is required by the deliver function")
    rate = rate_per_worker(container.config.callback_budget())
    service = _service_at(container, endpoint, rate=rate)
    failed = []
    for record in events.queue_records(event):
        try:
            report = service.deliver(Shard.from_json(record.body))
        except MalformedShard as malformed:
            log.error("work item %s is not one roomcast wrote: %s", record.message_id, malformed)
        except ShardUndelivered as undelivered:
            log.warning("work item %s goes back to the queue: %s", record.message_id, undelivered)
        except Exception:
            log.exception("could not deliver work item %s", record.message_id)
        else:
            current_tally().note_shard(report)
            continue
        failed.append({"itemIdentifier": record.message_id})
    return {"batchItemFailures": failed}


def _service(event: Any) -> ChatService:
    container = get_container()
    endpoint = container.config.websocket_endpoint() or _event_endpoint(event)
    return _service_at(container, endpoint)


def _service_at(container: Container, endpoint: str, rate: float | None = None) -> ChatService:
    """The service of this invocation, its notifier metered into the invocation's tally and,
    given a `rate`, kept under it (posts per second)."""
    notifier: Notifier = MeteringNotifier(container.notifier(endpoint=endpoint), current_tally())
    if rate is not None:
        notifier = PacedNotifier(notifier, rate)
    return container.chat_service(notifier=notifier)


def _event_endpoint(event: Any) -> str:
    try:
        return management_endpoint(endpoint_from_event(events.request_context(event)))
    except (KeyError, TypeError, ValueError):
        missing = "Malformed event: requestContext.domainName or stage missing"
        raise MalformedEvent(missing) from None


def _unusable(event: Any, problem: MalformedEvent | ConfigurationError) -> Response:
    """A malformed event is the caller's 400; a bad setting fails every invocation alike,
    so it is a 500 whose log line names the variable."""
    if isinstance(problem, MalformedEvent):
        log.warning("%s (%s)", problem, events.describe(event))
        return _response(400, str(problem))
    log.error("roomcast is misconfigured: %s (%s)", problem, events.describe(event))
    return _response(500, "Server misconfigured")


def _response(status_code: int, body: str) -> Response:
    return {"statusCode": status_code, "body": body}
