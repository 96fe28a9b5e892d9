"""Runs the gateway: binds, configures the handlers' environment, serves until Ctrl-C/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from roomcast.entrypoints.gateway import environment, event_sources, functions, injection, log_setup
from roomcast.entrypoints.gateway.app import make_app
from roomcast.entrypoints.gateway.authorizer import connect_authorizer
from roomcast.entrypoints.gateway.functions import TemplateFunctions
from roomcast.entrypoints.gateway.intrinsics import QUEUE_TYPE, Resolver
from roomcast.entrypoints.gateway.invoker import Invoker
from roomcast.entrypoints.gateway.isolation import LocalSettings
from roomcast.entrypoints.gateway.local_aws import (
    LocalAwsError,
    LocalEndpoint,
    ensure_tables,
    local_dynamodb,
    local_sqs,
    sqs_client,
)
from roomcast.entrypoints.gateway.origins import OriginPolicy
from roomcast.entrypoints.gateway.proxy_events import new_api_id
from roomcast.entrypoints.gateway.queues import (
    EventSources,
    Poller,
    QueueSource,
    local_event_sources,
    sqs_event_sources,
)
from roomcast.entrypoints.gateway.routing import RouteTable, load_routes
from roomcast.entrypoints.gateway.state import Gateway, GatewayLimits
from roomcast.entrypoints.gateway.template import (
    DEFAULT_TEMPLATE,
    ParameterError,
    TemplateError,
    connect_authorizer_definition,
    load_template,
    local_stack,
    parameter_environment,
    parameter_values,
    referenced_ids,
    route_definitions,
    stage_name,
    table_definition,
    table_definitions,
    table_name,
    ttl_attribute,
    with_parameters,
)
from roomcast.entrypoints.settings import (
    KEY_SOURCES,
    SETTINGS,
    ConfigurationError,
    check_room_access,
    from_environ,
)

log = logging.getLogger("roomcast.gateway")
DEFAULT_STAGE = "dev"  # a template without a Stage resource, and no --stage


class CannotStart(Exception):
    """The gateway cannot start as asked (port taken, template unreadable...): said in one line."""


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    stage: str | None = None  # None: the template's own stage
    store: str = "memory"
    template: Path = DEFAULT_TEMPLATE
    workers: int = 32
    max_queued: int = 10_000
    notifier: str = "inprocess"
    handshake_timeout: float = 10.0
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    allowed_origins: tuple[str, ...] = ()
    log_level: str = "info"
    create_table: bool = False
    allow_aws: bool = False
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Urls:
    host: str
    port: int
    stage: str

    @property
    def base(self) -> str:
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"{'[' + shown + ']' if ':' in shown else shown}:{self.port}"

    @property
    def websocket(self) -> str:
        return f"ws://{self.base}/{self.stage}"

    @property
    def page(self) -> str:
        return f"http://{self.base}/"

    @property
    def management(self) -> str:
        return f"http://{self.base}/{self.stage}"


def run(options: ServeOptions) -> int:
    log_setup.configure(options.log_level)
    try:
        asyncio.run(serve(options))
    except CannotStart as error:
        print(f"roomcast serve: {error}", file=sys.stderr)
        return 2
    return 0


async def serve(options: ServeOptions, stop: asyncio.Event | None = None) -> None:
    template = _template(options.template, options.parameter_overrides)
    stage = served_stage(options, template)
    environment.use_local_aws_defaults(os.environ)
    prepared = _functions(options.template, template)
    if prepared.any_in_process:
        table = table_name(template, stage)
        overridden = _parameter_environment(options, template)
        _check_settings(options, table, template, overridden)
        os.environ.update(overridden)
        store = _store_description(options, template, stage)
    listener = _listen(options.host, options.port)
    urls = Urls(options.host, listener.getsockname()[1], stage)
    api_id = new_api_id()
    servers: list[LocalEndpoint] = []
    sources: EventSources | None = None
    try:
        sqs = _sqs_endpoint(options, template, prepared, servers)
        resolver = _resolver(options, template, urls, api_id, sqs.url if sqs else "")
        dynamodb = (
            _isolate(options, template, prepared, resolver, urls, sqs, servers)
            if prepared.pending else None
        )
        routes = _routes(options.template, template, prepared)
        if prepared.any_in_process:
            os.environ.update(_queue_environment(options, template, prepared, resolver))
            if sqs is not None:
                os.environ["AWS_ENDPOINT_URL_SQS"] = sqs.url
            environment.configure(
                os.environ, store=options.store, endpoint=urls.management, table_name=table
            )
        gateway = _gateway(options, template, routes, stage, api_id, prepared)
        sources = _event_sources(options, template, prepared, resolver, gateway.invoker, sqs)
        gateway.event_sources = sources
        if prepared.any_in_process:
            injection.configure(
                gateway, options.notifier, options.workers,
                fanout_queue=_local_fanout_queue(sources),
                extra_threads=sum(p.mapping.concurrency for p in sources.pollers) if sources else 0,
            )
        text = banner_of(options, urls, prepared, dynamodb,
                         store if prepared.any_in_process else "", sources)
        if sources is not None:
            sources.start()
        await _run(options, gateway, listener, text, stop)
    finally:
        listener.close()
        if sources is not None:
            sources.stop()
        prepared.stop()
        for server in servers:
            server.stop()


async def _run(
    options: ServeOptions,
    gateway: Gateway,
    listener: socket.socket,
    text: str,
    stop: asyncio.Event | None,
) -> None:
    # aiohttp arms its keep-alive timer when a connection opens and disarms it when a
    # request arrives: with the handshake timeout as keep-alive timeout, a connection that
    # never completes its upgrade request is closed after it (an idle HTTP keep-alive
    # connection too; a WebSocket, once upgraded, is not idle in aiohttp's sense).
    runner = web.AppRunner(
        make_app(gateway),
        access_log=None,
        handle_signals=False,
        keepalive_timeout=options.handshake_timeout,
    )
    await runner.setup()
    await web.SockSite(runner, listener).start()
    print(text, flush=True)
    stop = stop or _stop_on_signals()
    await stop.wait()
    print(f"Shutting down: closing {len(gateway.connections)} connection(s)", flush=True)
    try:
        await gateway.close_all()
        await asyncio.get_running_loop().run_in_executor(None, _release_handler_resources)
    finally:
        await runner.cleanup()


def served_stage(options: ServeOptions, template: Mapping[str, Any]) -> str:
    """`--stage`, else the stage the template names (a Ref of a parameter: its value)."""
    if options.stage:
        return options.stage
    try:
        name = stage_name(template)
    except TemplateError:
        return DEFAULT_STAGE
    if isinstance(name, str):
        return name
    reference = name.get("Ref") if isinstance(name, dict) and len(name) == 1 else None
    value = parameter_values(template).get(str(reference)) if reference else None
    if isinstance(value, str) and value:
        return value
    raise CannotStart(
        f"cannot use the template {options.template}: the stage's StageName is not a "
        "string or a parameter's Ref: pass --stage"
    )


def _sqs_endpoint(
    options: ServeOptions,
    template: Mapping[str, Any],
    prepared: TemplateFunctions,
    servers: list[LocalEndpoint],
) -> LocalEndpoint | None:
    """Where the template's queues are when functions run in processes of their own (they
    cannot reach this process's memory): an SQS endpoint, the embedded moto server unless
    AWS_ENDPOINT_URL_SQS (or AWS_ENDPOINT_URL) names one; None for in-process queues."""
    if not prepared.pending or not _has_queues(template):
        return None
    try:
        server = local_sqs(os.environ)
    except LocalAwsError as error:
        raise CannotStart(f"cannot use the template {options.template}: {error}") from None
    servers.append(server)
    return server


def _has_queues(template: Mapping[str, Any]) -> bool:
    resources: Mapping[str, Any] = template.get("Resources", {})
    return any(r.get("Type") == QUEUE_TYPE for r in resources.values())


def _resolver(
    options: ServeOptions, template: Mapping[str, Any], urls: Urls, api_id: str,
    queue_endpoint: str,
) -> Resolver:
    return local_stack(
        template,
        api_id=api_id,
        stage=urls.stage,
        websocket_origin=f"ws://{urls.base}",
        http_origin=f"http://{urls.base}",
        region=_region(os.environ),
        stack_name=stack_name(options.template),
        queue_endpoint=queue_endpoint,
    )


def _queue_environment(
    options: ServeOptions,
    template: Mapping[str, Any],
    prepared: TemplateFunctions,
    resolver: Resolver,
) -> dict[str, str]:
    """The variables of the in-process functions that name one of the template's queues
    (`FANOUT_QUEUE_URL: !Ref FanoutQueue`), resolved to the local queue: they share this
    process's environment, as `parameter_environment`'s do."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    found: dict[str, str] = {}
    for logical_id, definition in prepared.definitions.items():
        if logical_id in prepared.isolated or definition in prepared.pending:
            continue
        for name, value in definition.environment.items():
            if not any(resources.get(r, {}).get("Type") == QUEUE_TYPE
                       for r in referenced_ids(value)):
                continue
            try:
                text = resolver.text(value, f"{logical_id} Environment.Variables.{name}")
            except ValueError as error:
                raise CannotStart(f"cannot use the template {options.template}: {error}") from None
            if found.setdefault(name, text) != text:
                raise CannotStart(
                    f"cannot use the template {options.template}: {name} names two queues "
                    "in two functions: one process cannot give each function its own"
                )
    return found


def _event_sources(
    options: ServeOptions,
    template: Mapping[str, Any],
    prepared: TemplateFunctions,
    resolver: Resolver,
    invoker: Invoker,
    sqs: LocalEndpoint | None,
) -> EventSources | None:
    """The template's queues and a poller for each of its SQS event source mappings."""
    if not _has_queues(template):
        return None
    region = _region(os.environ)
    try:
        definitions = event_sources.queue_definitions(template, resolver)
        mappings = event_sources.event_source_mappings(template, resolver)
        arns = {d.logical_id: resolver.get_att(d.logical_id, "Arn", d.logical_id)
                for d in definitions}
        urls = {d.logical_id: resolver.ref(d.logical_id, d.logical_id) for d in definitions}
    except ValueError as error:
        raise CannotStart(f"cannot use the template {options.template}: {error}") from None

    def poller(mapping: event_sources.MappingDefinition, source: QueueSource) -> Poller:
        timeout = prepared.definitions[mapping.function].timeout_seconds
        return Poller(mapping, source, prepared.handlers[mapping.function], invoker.call,
                      timeout_seconds=timeout, region=region)

    if sqs is None:
        return local_event_sources(definitions, mappings, urls, arns, poller)
    try:
        client = sqs_client(sqs.url, region, embedded=sqs.embedded)
        return sqs_event_sources(client, sqs.url, definitions, mappings, arns, poller)
    except Exception as error:  # botocore's, from the SQS endpoint
        raise CannotStart(f"cannot create the template's queues at {sqs.url}: {error}") from None


def _local_fanout_queue(sources: EventSources | None) -> Any:
    """roomcast's fan-out queue for the in-process handlers: the SQS adapter a deployment
    runs, on the local queue FANOUT_QUEUE_URL names (None: the container's own)."""
    url = os.environ.get("FANOUT_QUEUE_URL")
    if sources is None or not url or not sources.is_local_url(url):
        return None
    from roomcast.adapters.sqs_fanout import SqsFanoutQueue

    return SqsFanoutQueue(sources.client(), url)


def _functions(path: Path, template: Mapping[str, Any]) -> TemplateFunctions:
    """The functions the routes and the authorizer invoke: roomcast's (and those whose code
    is not here) imported now, the others defined to run isolated once the port is known."""
    # Handlers named in a template resolve from the working directory, as `flask run` does;
    # a console script's sys.path starts with its own bin/ instead.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        ids = [route.function for route in route_definitions(template)]
        authorizer = connect_authorizer_definition(template)
        if authorizer is not None:
            ids.append(authorizer.function)
        ids += event_sources.mapping_functions(template)
        return functions.prepare(template, ids, path.resolve().parent)
    except (ImportError, ValueError) as error:
        raise CannotStart(f"cannot use the template {path}: {error}") from None


def _isolate(
    options: ServeOptions,
    template: Mapping[str, Any],
    prepared: TemplateFunctions,
    resolver: Resolver,
    urls: Urls,
    sqs: LocalEndpoint | None,
    servers: list[LocalEndpoint],
) -> LocalEndpoint | None:
    """The template's tables created, its functions started (their names resolved by
    `resolver`); the DynamoDB endpoint, once in `servers` for the caller to stop."""
    region = _region(os.environ)
    dynamodb: LocalEndpoint | None = None
    try:
        tables = table_definitions(template, resolver)
        if tables:
            given = environment.dynamodb_endpoint_override(os.environ)
            # The embedded moto server that has the queues has tables too.
            dynamodb = sqs if sqs is not None and sqs.embedded and not given else (
                local_dynamodb(os.environ))
            if dynamodb is not sqs:
                servers.append(dynamodb)
            for created in ensure_tables(dynamodb.url, region, tables, embedded=dynamodb.embedded):
                print(f"Created table {created} at {dynamodb.url}", flush=True)
        settings = LocalSettings(
            region=region,
            management_url=urls.management,
            dynamodb_endpoint=dynamodb.url if dynamodb else None,
            allow_aws=options.allow_aws,
            sqs_endpoint=sqs.url if sqs else None,
        )
        prepared.isolate(resolver, settings, max_environments=options.workers)
        warning = functions.runtime_warning(prepared)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        functions.start(prepared)
    except (ValueError, LocalAwsError) as error:
        raise CannotStart(f"cannot use the template {options.template}: {error}") from None
    except Exception as error:  # botocore's, from a user's DynamoDB endpoint
        raise CannotStart(f"cannot create the template's tables: {error}") from None
    return dynamodb


def _region(environ: Mapping[str, str]) -> str:
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def stack_name(template_path: Path) -> str:
    """`AWS::StackName` here: the project folder's name, as `sam deploy --guided` offers."""
    folder = template_path.resolve().parent.name
    return re.sub(r"[^A-Za-z0-9-]+", "-", folder).strip("-") or "local"


def _listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server((host, port))
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or error
        raise CannotStart(f"cannot listen on {host}:{port}: {reason}") from None


def _release_handler_resources() -> None:
    """Close the SDK clients roomcast's handlers keep in their container (Lambda never does)."""
    containers = sys.modules.get("roomcast.entrypoints.containers")
    reset = getattr(containers, "reset_container", None)
    if callable(reset):
        reset()


def _template(path: Path, parameter_overrides: Mapping[str, str]) -> dict[str, object]:
    """The stack as `--parameter-overrides` would deploy it: its conditions decide, e.g.,
    whether an authorizer guards $connect."""
    try:
        return with_parameters(load_template(path), parameter_overrides)
    except ParameterError as error:
        raise CannotStart(f"--parameter-overrides: {error}") from None
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise CannotStart(f"cannot use the template {path}: {error}") from None


def _routes(path: Path, template: dict[str, object], prepared: TemplateFunctions) -> RouteTable:
    try:
        return load_routes(template, prepared.handler_for)
    except (ImportError, ValueError) as error:
        raise CannotStart(f"cannot use the template {path}: {error}") from None


def _parameter_environment(
    options: ServeOptions, template: dict[str, object]
) -> dict[str, str]:
    """What `--parameter-overrides` gives the functions' environment (e.g. RoomAccess=token
    sets ROOMCAST_ROOM_ACCESS), as the deployed stack would."""
    try:
        return parameter_environment(template, options.parameter_overrides)
    except TemplateError as error:
        raise CannotStart(f"cannot use the template {options.template}: {error}") from None


def _check_settings(
    options: ServeOptions,
    table: str,
    template: dict[str, object],
    overridden: Mapping[str, str] | None = None,
) -> None:
    """Every setting the handlers will read, checked now rather than on the first $connect."""
    environ = {**os.environ, **(overridden or {}), "ROOMCAST_STORE": options.store}
    environ.pop("WEBSOCKET_ENDPOINT", None)  # the gateway sets its own
    environ.setdefault("CONNECTIONS_TABLE", table)
    try:
        values = from_environ(environ)
        check_room_access(values)
    except ConfigurationError as error:
        raise CannotStart(str(error)) from None
    _check_authorizer_keys(options.template, template, values)


ROOMCAST_HANDLERS = "roomcast.entrypoints.aws_lambda."


def _check_authorizer_keys(
    path: Path, template: dict[str, object], values: Mapping[str, Any]
) -> None:
    """roomcast's own `$connect` authorizer verifies tokens with a key source from the
    environment (the stack sets it from JwksUrl, JwtSecret...); without one it would answer
    every handshake 500, so the gateway does not start."""
    try:
        authorizer = connect_authorizer_definition(template)
    except ValueError as error:
        raise CannotStart(f"cannot use the template {path}: {error}") from None
    except (KeyError, TypeError) as error:
        raise CannotStart(
            f"cannot use the template {path}: its $connect authorizer lacks {error}"
        ) from None
    if authorizer is None or not authorizer.handler_name.startswith(ROOMCAST_HANDLERS):
        return
    if any(values.get(key) for key in KEY_SOURCES):
        return
    names = [setting.env for setting in SETTINGS if setting.key in KEY_SOURCES]
    raise CannotStart(
        "the $connect authorizer needs a key source in the environment: set one of "
        + ", ".join(names)
        + " (`roomcast token --key KEY.pem --kid KID --jwks FILE` writes a ROOMCAST_JWKS_FILE)"
    )


def _store_description(options: ServeOptions, template: dict[str, object], stage: str) -> str:
    if options.store != "dynamodb":
        return "memory (in this process)"
    table = os.environ.get("CONNECTIONS_TABLE") or table_name(template, stage)
    endpoint = ensure_table(
        table, template, create=options.create_table, allow_aws=options.allow_aws
    )
    return f"DynamoDB table {table} at {endpoint}"


CREATE_HINT = "roomcast serve --store dynamodb --create-table"


def ensure_table(table: str, template: dict[str, Any], *, create: bool, allow_aws: bool) -> str:
    """Where the table is (its endpoint URL) once it is known to exist, or created.

    Checked before the gateway binds: a missing table would otherwise surface as a 500 on
    the first `$connect`, and a missing endpoint override would quietly point a laptop's
    gateway at the real account."""
    if environment.dynamodb_endpoint_override(os.environ) is None and not allow_aws:
        raise CannotStart(
            "--store dynamodb would use real AWS: set AWS_ENDPOINT_URL_DYNAMODB (DynamoDB "
            "Local, moto_server) or pass --allow-aws"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client()
    endpoint = str(client.meta.endpoint_url)
    try:
        if not _exists(client, table):
            if not create:
                raise CannotStart(
                    f"table {table} does not exist at {endpoint}: create it with `{CREATE_HINT}`"
                )
            _create(client, table, template)
    except (BotoCoreError, ClientError) as error:
        raise CannotStart(f"cannot use table {table} at {endpoint}: {error}") from None
    return endpoint


def _client() -> Any:
    import boto3
    from botocore.config import Config

    quick = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2})
    return boto3.client("dynamodb", config=quick)


def _exists(client: Any, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def _create(client: Any, table: str, template: dict[str, Any]) -> None:
    """The template's table, with the TTL that every item relies on (CreateTable sets none)."""
    client.create_table(TableName=table, **table_definition(template))
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute(template)},
    )
    print(f"Created table {table} (TTL on {ttl_attribute(template)})", flush=True)


def _gateway(
    options: ServeOptions,
    template: dict[str, object],
    routes: RouteTable,
    stage: str,
    api_id: str,
    prepared: TemplateFunctions,
) -> Gateway:
    invoker = Invoker(
        options.workers, options.limits.integration_timeout_seconds, options.max_queued
    )
    origins = OriginPolicy.of(options.host, options.allowed_origins)
    try:
        authorizer = connect_authorizer(template, prepared.handler_for)
    except (KeyError, ValueError) as error:
        raise CannotStart(f"cannot use the template {options.template}: {error}") from None
    return Gateway(
        routes,
        options.limits,
        invoker,
        stage,
        origins=origins,
        api_id=api_id,
        authorizer=authorizer,
        roomcast_store=prepared.any_in_process,
    )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def banner(
    options: ServeOptions, urls: Urls, store: str, sources: EventSources | None = None
) -> str:
    """What `serve` prints for roomcast's own template: its store, the chat page."""
    return "\n".join(
        [
            f"roomcast gateway: stage {urls.stage}, {options.store} store, "
            f"{options.notifier} notifier, {options.template}",
            f"  Store:      {store}",
            *_queue_lines(urls, sources),
            f"  WebSocket:  {urls.websocket}",
            f"  Chat page:  {urls.page}",
            f"  Management: {urls.management}/@connections/{{connectionId}}",
            f"  Try:        npx wscat -c '{urls.websocket}?userId=alice'",
            *_overrides_line(options),
            "Press Ctrl-C to stop.",
        ]
    )


def banner_of(
    options: ServeOptions,
    urls: Urls,
    prepared: TemplateFunctions,
    dynamodb: LocalEndpoint | None,
    store: str,
    sources: EventSources | None = None,
) -> str:
    """The banner; a template with functions of its own gets theirs, and no chat page
    (the page speaks roomcast's protocol)."""
    if not prepared.isolated:
        return banner(options, urls, store, sources)
    described = prepared.describe()
    lines = [
        f"roomcast gateway: stage {urls.stage}, {len(described)} function(s), {options.template}",
        *(f"  {'Functions:' if i == 0 else '':<11} {line}" for i, line in enumerate(described)),
    ]
    if dynamodb is not None:
        kind = "embedded moto" if dynamodb.embedded else "AWS_ENDPOINT_URL_DYNAMODB"
        lines.append(f"  DynamoDB:   {dynamodb.url} ({kind})")
    if prepared.any_in_process:
        lines.append(f"  Store:      {store}")
    lines += _queue_lines(urls, sources)
    lines += [
        f"  WebSocket:  {urls.websocket}",
        f"  Management: {urls.management}/@connections/{{connectionId}}",
        f"  Try:        npx wscat -c '{urls.websocket}'",
        *_overrides_line(options),
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _queue_lines(urls: Urls, sources: EventSources | None) -> list[str]:
    """Each emulated event source mapping (queue -> function), and where their status is."""
    if sources is None:
        return []
    described = sources.lines()
    return [
        *(f"  {'Queues:' if i == 0 else '':<11} {line}" for i, line in enumerate(described)),
        f"  {'':<11} status: http://{urls.base}/@roomcast/queues",
    ]


def _overrides_line(options: ServeOptions) -> list[str]:
    chosen = " ".join(f"{k}={v}" for k, v in options.parameter_overrides.items())
    return [f"  Parameters: {chosen}"] if chosen else []
