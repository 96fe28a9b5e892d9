"""`roomcast serve` refuses bad input with one clear line and exit status 2, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
import yaml

from roomcast.entrypoints.cli.main import main
from roomcast.entrypoints.gateway.server import ensure_table
from roomcast.entrypoints.gateway.template import load_template, table_definition, ttl_attribute
from tests.support.moto_server import moto_server_url


class TestArguments:
    @pytest.mark.parametrize(
        ("arguments", "complaint"),
        [
            (["--port", "99999"], "a port is 0-65535"),
            (["--port", "eighty"], "not a number"),
            (["--workers", "0"], "--workers: must be more than 0"),
            (["--workers", "1.5"], "--workers: not a number"),
            (["--idle-timeout", "-1"], "--idle-timeout: must be more than 0"),
            (["--max-frame-bytes", "0"], "--max-frame-bytes: must be more than 0"),
            (["--store", "redis"], "invalid choice"),
            (["--notifier", "pigeon"], "invalid choice"),
            (["--handshake-timeout", "0"], "--handshake-timeout: must be more than 0"),
            (["--max-queued", "0"], "--max-queued: must be more than 0"),
            (["--max-outbound-bytes", "-1"], "--max-outbound-bytes: must be more than 0"),
            (["--stage", "a/b"], "--stage: a stage name is 1-128 letters, digits, - and _"),
            (["--stage", ""], "--stage: a stage name is 1-128 letters, digits, - and _"),
            (["--stage", "x" * 129], "--stage: a stage name is 1-128 letters, digits, - and _"),
            (["--stage", "dév"], "--stage: a stage name is 1-128 letters, digits, - and _"),
        ],
    )
    def test_a_bad_argument_is_refused_by_name(self, arguments, complaint, capsys):
        with pytest.raises(SystemExit) as refused:
            main(["serve", *arguments])
        assert refused.value.code == 2
        assert complaint in capsys.readouterr().err


class TestCannotStart:
    def test_a_taken_port_is_one_line_saying_so(self, capsys):
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            assert main(["serve", "--port", str(port)]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"roomcast serve: cannot listen on 127.0.0.1:{port}")
        assert "Traceback" not in error

    @pytest.mark.parametrize("content", [None, "not: [valid", "Resources: {}\n"])
    def test_a_missing_or_unusable_template_is_one_line_naming_it(
        self, tmp_path, capsys, content
    ):
        template = tmp_path / "template.yaml"
        if content is not None:
            template.write_text(content)
        assert main(["serve", "--port", "0", "--template", str(template)]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"roomcast serve: cannot use the template {template}")
        assert "Traceback" not in error


class TestSettingsBeforeBinding:
    def test_a_bad_setting_is_one_line_naming_it_before_the_port_is_tried(
        self, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        environment.setenv("ROOMCAST_MAX_ROOMS_PER_CONNECTION", "zero")
        with socket.create_server(("127.0.0.1", 0)) as taken:
            assert main(["serve", "--port", str(taken.getsockname()[1])]) == 2
        assert capsys.readouterr().err == (
            "roomcast serve: ROOMCAST_MAX_ROOMS_PER_CONNECTION must be a positive integer, "
            "got 'zero'\n"
        )


class TestDynamoDBStore:
    def test_without_an_endpoint_override_it_refuses_to_reach_aws(
        self, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["serve", "--port", "0", "--store", "dynamodb"]) == 2
        error = capsys.readouterr().err
        assert error.startswith("roomcast serve: --store dynamodb would use real AWS")
        assert "--allow-aws" in error and error.count("\n") == 1

    def test_a_missing_table_is_one_line_saying_how_to_create_it(
        self,
        environment: pytest.MonkeyPatch,
        request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        endpoint = moto_server_url(request.config)
        environment.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        environment.setenv("CONNECTIONS_TABLE", f"missing-{uuid.uuid4().hex[:8]}")
        assert main(["serve", "--port", "0", "--store", "dynamodb"]) == 2
        error = capsys.readouterr().err
        assert "does not exist at " + endpoint in error
        assert "roomcast serve --store dynamodb --create-table" in error
        assert error.count("\n") == 1

    def test_create_table_makes_the_templates_table_with_its_ttl(
        self, environment: pytest.MonkeyPatch, request: pytest.FixtureRequest
    ) -> None:
        endpoint = moto_server_url(request.config)
        environment.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        name = f"created-{uuid.uuid4().hex[:8]}"
        template = load_template()

        assert ensure_table(name, template, create=True, allow_aws=False) == endpoint
        assert ensure_table(name, template, create=False, allow_aws=False) == endpoint

        client = boto3.client("dynamodb", endpoint_url=endpoint)
        schema = client.describe_table(TableName=name)["Table"]["KeySchema"]
        assert schema == table_definition(template)["KeySchema"]
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl_attribute(template)}


HANDLER_MODULE = '''
def connect(event, context):
    return {"statusCode": 200}


def deliver(event, context):
    return {"batchItemFailures": []}


message = disconnect = connect
'''


class TestConsoleScript:
    def test_handlers_in_the_working_directory_import(self, tmp_path: Path) -> None:
        (tmp_path / "cwd_only_handlers.py").write_text(HANDLER_MODULE)
        template = load_template()
        for resource in template["Resources"].values():
            handler = resource.get("Properties", {}).get("Handler", "")
            if handler.startswith("roomcast.entrypoints.aws_lambda.handlers."):
                resource["Properties"]["Handler"] = handler.replace(
                    "roomcast.entrypoints.aws_lambda.handlers.", "cwd_only_handlers."
                )
        (tmp_path / "template.yaml").write_text(yaml.safe_dump(template))
        output = tmp_path / "serve.log"
        script = Path(sys.executable).parent / "roomcast"
        command = [str(script), "serve", "--port", "0", "--template", "template.yaml"]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
        with open(output, "w") as log:
            process = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=log, env=environ)
        try:
            for _ in range(300):
                if "Press Ctrl-C" in output.read_text() or process.poll() is not None:
                    break
                time.sleep(0.1)
            assert process.poll() is None, output.read_text()
        finally:
            process.terminate()
            process.wait(30)
