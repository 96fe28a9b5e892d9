"""`roomcast serve` refuses bad input with one clear line and exit status 2, not a traceback."""

from __future__ import annotations

import socket

import pytest

from entrypoints.cli import main


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
