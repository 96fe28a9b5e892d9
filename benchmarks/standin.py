"""A management-API stand-in for benchmarks: aiohttp processes sharing one port (SO_REUSEPORT),
each answering POST /{stage}/@connections/{id} with 200 after a fixed delay, as API Gateway
takes network time. It counts the POSTs it answers and reports its own CPU time, so a
benchmark can show it was not the bottleneck."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import sys
import time
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StandIn:
    """`processes` stand-in servers on one loopback port; stop() ends them."""

    def __init__(self, delay_s: float, processes: int, log: Path, stage: str = "bench") -> None:
        self.delay_s = delay_s
        self.stage = stage
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self._posts: Synchronized[int] = context.Value("q", 0)
        log.parent.mkdir(parents=True, exist_ok=True)
        ready = [context.Event() for _ in range(processes)]
        self._children = [
            context.Process(
                target=_serve, args=(self.port, delay_s, self._posts, str(log), event), daemon=True
            )
            for event in ready
        ]
        for child in self._children:
            child.start()
        if not all(event.wait(timeout=30) for event in ready):
            self.stop()
            raise RuntimeError(f"the stand-in did not start; see {log}")
        _wait_for_port(self.port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.stage}"

    @property
    def posts(self) -> int:
        return int(self._posts.value)

    def cpu_seconds(self) -> float:
        """User + system CPU time the stand-in processes have used so far."""
        return sum(_cpu_seconds(child.pid) for child in self._children if child.pid)

    def stop(self) -> None:
        for child in self._children:
            child.terminate()
        for child in self._children:
            child.join(timeout=5)


def _serve(port: int, delay_s: float, posts: Any, log: str, ready: Any) -> None:
    sys.stdout = sys.stderr = open(log, "a", buffering=1)  # noqa: SIM115 - for the process's life
    from aiohttp import web

    async def post(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay_s)
        with posts.get_lock():
            posts.value += 1
        return web.Response(status=200)

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"connectedAt": "2024-01-01T00:00:00Z"})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/{stage}/@connections/{id}", post)
        app.router.add_get("/{stage}/@connections/{id}", get)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the stand-in did not listen on port {port} within {timeout_s} s")
