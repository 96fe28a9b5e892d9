"""One real `moto_server` per test session, on a free loopback port, started on first use.

Run as `python -m tests.support.moto_server PORT` it is that server: moto's own, with the
transaction fixes of tests/support/moto_transactions.py installed first.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STARTUP_SECONDS = 30.0
REPOSITORY = Path(__file__).resolve().parents[2]
_SERVER_KEY = pytest.StashKey[str]()


def moto_server_url(config: pytest.Config) -> str:
    """The server's endpoint URL; the first call starts it and schedules its shutdown."""
    if _SERVER_KEY not in config.stash:
        port = _free_loopback_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.moto_server", str(port)],
            cwd=REPOSITORY,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        config.add_cleanup(lambda: _stop(process))
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(url, process)
        config.stash[_SERVER_KEY] = url
    return config.stash[_SERVER_KEY]


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto_server did not answer on {url} within {STARTUP_SECONDS}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _serve(port: str) -> None:
    from moto.server import main

    from tests.support.moto_transactions import install

    install()
    main(["-H", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    _serve(sys.argv[1])
