"""How the operator's commands fail: one line, and an exit code that says whose fault."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

USAGE, FAILURE = 2, 1
GATEWAY_EXAMPLE = "http://127.0.0.1:8080/dev"


class OperatorError(Exception):
    """A failure said in one line; `exit_code` 2 for a missing or bad setting, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def setting_problem(error: Exception, *, gateway_reads: bool) -> OperatorError:
    """A ConfigurationError as one line; a missing table also names the options that help."""
    message = str(error)
    if "CONNECTIONS_TABLE" in message:
        message += " (or --table)"
        if gateway_reads:
            message += (f"; --gateway URL reads a running roomcast serve instead, "
                        f"e.g. --gateway {GATEWAY_EXAMPLE}")
    return OperatorError(message, USAGE)


def gone(connection_id: str) -> OperatorError:
    return OperatorError(f"connection {connection_id} is gone (410)")


@contextmanager
def aws_errors(connection_id: str = "", client: Any = None) -> Iterator[None]:
    """botocore's failures as one line each: no region, no credentials, no table, no route."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    try:
        yield
    except NoRegionError:
        raise OperatorError(
            "no AWS region configured: set AWS_DEFAULT_REGION (or a profile with a region)",
            USAGE,
        ) from None
    except ProfileNotFound as error:
        raise OperatorError(str(error), USAGE) from None
    except NoCredentialsError:
        raise OperatorError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY", USAGE,
        ) from None
    except ValueError as error:  # botocore's "Invalid endpoint: ...": a bad URL or no region
        if "Invalid endpoint" not in str(error):
            raise
        raise OperatorError(_invalid_endpoint(str(error)), USAGE) from None
    except EndpointConnectionError as error:
        raise OperatorError(f"cannot reach {error.kwargs.get('endpoint_url')}") from None
    except ClientError as error:
        if client is not None and isinstance(error, client.exceptions.GoneException):
            raise gone(connection_id) from None
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        exit_code = USAGE if code == "ResourceNotFoundException" else FAILURE
        raise OperatorError(f"{code}: {message}", exit_code) from None
    except BotoCoreError as error:  # timeouts, bad parameters: still one line
        raise OperatorError(f"{type(error).__name__}: {error}") from None


def _invalid_endpoint(message: str) -> str:
    """Whose URL botocore refused: an endpoint override's, or the one an empty region makes
    ("dynamodb..amazonaws.com")."""
    for variable in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"):
        value = os.environ.get(variable, "")
        if value and message.endswith(f": {value}"):
            return f"{variable} {value!r} is not a URL: e.g. {variable}=http://127.0.0.1:8000"
    return f"{message}: is AWS_DEFAULT_REGION set and not empty?"
