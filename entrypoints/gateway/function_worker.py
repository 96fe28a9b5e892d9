"""One Lambda execution environment of one function, as `roomcast serve` runs it.

`isolation.py` starts this file as a script (by its path, so nothing of roomcast is imported
here: the function's `sys.modules` holds the standard library and its own modules only),
with the function's code folder as working directory and first on `sys.path`, as
`/var/task` is on Lambda, and with the function's environment and nothing of the gateway's.
It imports the handler once (the cold start), then answers invocations one at a time,
staying warm between them.

Protocol, one JSON document a line: the gateway writes invocations to this process's stdin;
the answers go back on what was its stdout, which is then moved aside so that the
function's own prints go to stderr, the function's log, with its tracebacks.

Before the function runs, botocore is taught to stay local (only when the function imports
it): https to the gateway's own host:port goes over plain http; the API's execute-api URLs
reach the gateway; the DynamoDB endpoint serve set answers whatever region a client signs
for; and any other AWS endpoint is refused unless `--allow-aws`.
"""

from __future__ import annotations

import decimal
import importlib
import importlib.abc
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from typing import Any
from urllib.parse import urlsplit, urlunsplit

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
AWS_HOST = re.compile(r"(^|\.)(amazonaws\.com(\.cn)?|api\.aws|aws\.dev)$")
CREDENTIAL_SCOPE = re.compile(r"(Credential=[^/]+/\d{8}/)([a-z0-9-]+)(/dynamodb/)")


class Context:
    """Lambda's context object, as the Python runtime hands it to handlers."""

    def __init__(self, request: dict[str, Any], config: dict[str, Any]) -> None:
        name = config["functionName"]
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = config["functionArn"]
        self.memory_limit_in_mb = str(config["memoryMb"])
        self.aws_request_id = request["requestId"]
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = config["logStream"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(request["deadlineMs"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main() -> None:
    config = json.loads(sys.argv[1])
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)  # the function's prints join its log (stderr)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    root = config["root"]
    sys.path[:] = [root, *(p for p in sys.path[1:] if p not in ("", root))]
    sys.meta_path.insert(0, _PatchBotocoreOnImport(config))
    started = time.monotonic()
    try:
        handler = _import_handler(config["handler"])
    except _InitError as failure:
        _print_error(failure.error_type, failure.message, failure.__cause__)
        _answer(answers, {"initError": failure.describe()})
        return
    _answer(answers, {"ready": {"initMs": round((time.monotonic() - started) * 1000)}})
    for line in requests:
        request = json.loads(line)
        _answer(answers, _invoke(handler, request, config))


def _answer(channel: Any, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, separators=(",", ":")) + "\n")
    channel.flush()


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type, self.message = error_type, message

    def describe(self) -> dict[str, Any]:
        cause = self.__cause__
        missing = getattr(cause, "name", None) if isinstance(cause, ImportError) else None
        return {"errorType": self.error_type, "errorMessage": self.message, "missing": missing}


def _import_handler(name: str) -> Any:
    """As Lambda's Python runtime imports `Handler`: `path/module.function`."""
    module_name, _, attribute = name.rpartition(".")
    module_name = module_name.replace("/", ".")
    if not module_name:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{name}': not enough values")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as error:
        raise _InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}"
        ) from error
    except ImportError as error:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except Exception as error:
        raise _InitError(
            "Runtime.Unknown", f"Unable to import module '{module_name}': {error!r}"
        ) from error
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return handler


def _invoke(handler: Any, request: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    try:
        result = handler(request["event"], Context(request, config))
    except Exception as error:
        error.__traceback__ = error.__traceback__.tb_next if error.__traceback__ else None
        _print_error(type(error).__name__, str(error), error)  # the function's frames only
        return {"error": _describe(error)}
    try:
        json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        _print_error("Runtime.MarshalError", message, None)
        return {"error": {"errorType": "Runtime.MarshalError", "errorMessage": message}}
    return {"result": json.loads(json.dumps(result, default=_json_default))}


def _json_default(value: Any) -> Any:
    """The Python runtime's marshaller writes a Decimal (DynamoDB's numbers) as a number."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _describe(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _print_error(error_type: str, message: str, error: BaseException | None) -> None:
    """Lambda's log line for a failure, then the traceback."""
    lines = [f"[ERROR] {error_type}: {message}"]
    if error is not None:
        lines.extend(traceback.format_exception(error))
    print("".join(line if line.endswith("\n") else line + "\n" for line in lines), end="",
          file=sys.stderr, flush=True)


# -- keeping botocore local ---------------------------------------------------------


class _PatchBotocoreOnImport(importlib.abc.MetaPathFinder):
    """Patches `botocore.httpsession` right after the function imports it (not before: a
    function that never uses boto3 must not pay for importing it)."""

    TARGET = "botocore.httpsession"

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self.TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader, config = spec.loader, self._config
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _patch_sessions(module, config)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _patch_sessions(httpsession: Any, config: dict[str, Any]) -> None:
    from botocore.exceptions import BotoCoreError

    class AwsCallRefused(BotoCoreError):  # type: ignore[misc]
        fmt = (
            "roomcast serve refused a call to {url}: it would reach AWS. Functions reach "
            "only the local DynamoDB and the gateway's management API; pass --allow-aws "
            "to let them reach AWS"
        )

    send = httpsession.URLLib3Session.send

    def local_send(session: Any, request: Any) -> Any:
        _localize(request, config, AwsCallRefused)
        return send(session, request)

    httpsession.URLLib3Session.send = local_send


def _localize(request: Any, config: dict[str, Any], refused: Any) -> None:
    url = urlsplit(request.url)
    host = (url.hostname or "").lower()
    gateway = urlsplit(config["gateway"])  # http://host:port
    dynamodb = config.get("dynamodb")
    if dynamodb and request.url.startswith(dynamodb):
        authorization = request.headers.get("Authorization")
        if authorization:  # the local tables are in one region: any signed region finds them
            region = config["region"]
            scoped = CREDENTIAL_SCOPE.sub(rf"\g<1>{region}\g<3>", str(authorization))
            request.headers["Authorization"] = scoped
        return
    if url.scheme == "https" and url.port == gateway.port and host in LOOPBACK_NAMES:
        request.url = urlunsplit(("http", url.netloc, url.path, url.query, url.fragment))
        return
    if EXECUTE_API_HOST.match(host):  # an endpoint built from the API id: the gateway's
        request.url = urlunsplit(("http", gateway.netloc, url.path, url.query, url.fragment))
        if "Host" in request.headers:
            request.headers["Host"] = gateway.netloc
        return
    if AWS_HOST.search(host) and not config.get("allowAws"):
        raise refused(url=f"{url.scheme}://{url.netloc}")


if __name__ == "__main__":
    main()
