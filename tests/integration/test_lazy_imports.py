"""Authentication costs a cold start only what its mode needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import events
from tests.support.identity import rsa_key, write_jwks

ROOT = Path(__file__).resolve().parents[2]

CONNECT_AND_LIST_MODULES = """
import json, sys
from roomcast.entrypoints.aws_lambda import handlers
response = handlers.connect(json.loads(sys.argv[1]), None)
print(json.dumps([response["statusCode"], sorted(m.split(".")[0] for m in sys.modules)]))
"""


def connect_in_fresh_interpreter(environ: dict[str, str], query: dict[str, str]) -> tuple:
    event = json.dumps(events.connect_event(events.new_connection_id(), query))
    result = subprocess.run(
        [sys.executable, "-c", CONNECT_AND_LIST_MODULES, event],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "ROOMCAST_STORE": "memory", **environ},
    )
    assert result.returncode == 0, result.stderr
    # The handler's own metrics (EMF) go to stdout before the line printed here.
    status, modules = json.loads(result.stdout.splitlines()[-1])
    return status, set(modules)


class TestLazyImports:
    def test_connect_without_authentication_imports_neither_pyjwt_nor_cryptography(
        self,
    ) -> None:
        status, modules = connect_in_fresh_interpreter({}, {"userId": "alice"})
        assert status == 200
        assert not {"jwt", "cryptography"} & modules

    def test_connect_with_a_jwks_imports_cryptography(self, tmp_path: Path) -> None:
        key = rsa_key()
        path = write_jwks(tmp_path / "jwks.json", key)
        status, modules = connect_in_fresh_interpreter(
            {"ROOMCAST_JWKS_FILE": str(path)}, {"token": key.sign({"sub": "alice"})}
        )
        assert status == 200
        assert "cryptography" in modules
