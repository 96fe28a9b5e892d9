"""A management-API stand-in for benchmarks: aiohttp processes sharing one port (SO_REUSEPORT),
each answering POST /{stage}/@connections/{id} with 200 after a fixed delay, as API Gateway
takes network time. It counts the POSTs it answers and reports its own CPU time, so a
benchmark can show it was not the bottleneck. With `record=True` each process also keeps,
per connection id, how many POSTs it answered and when it answered the last one, which
`take_deliveries` collects (so a benchmark can time the last delivery and check that every
recipient got its frame exactly once)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StandIn:
    """`processes` stand-in servers on one loopback port; stop() ends them."""

    def __init__(
        self, delay_s: float, processes: int, log: Path, stage: str = "bench",
        record: bool = False,
    ) -> None:
        self.delay_s = delay_s
        self.stage = stage
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self._posts: Synchronized[int] = context.Value("q", 0)
        log.parent.mkdir(parents=True, exist_ok=True)
        ready = [context.Event() for _ in range(processes)]
        pipes = [context.Pipe() if record else None for _ in range(processes)]
        self._controls = [pipe[0] for pipe in pipes if pipe is not None]
        self._children = [
            context.Process(
                target=_serve,
                args=(self.port, delay_s, self._posts, str(log), event,
                      None if pipe is None else pipe[1]),
                daemon=True,
            )
            for event, pipe in zip(ready, pipes, strict=True)
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
        return sum(process_cpu_seconds(child.pid) for child in self._children if child.pid)

    def take_deliveries(self) -> tuple[Counter[str], float]:
        """The POSTs answered per connection id since the last take, and the time.monotonic()
        (one clock for every process on the machine) at which the last of them was answered;
        0.0 when none was. Needs `record=True`."""
        if not self._controls:
            raise RuntimeError("this stand-in was started without record=True")
        for control in self._controls:
            control.send("take")
        counts: Counter[str] = Counter()
        last = 0.0
        for control in self._controls:
            their_counts, their_last = control.recv()
            counts.update(their_counts)
            last = max(last, their_last)
        return counts, last

    def stop(self) -> None:
        for child in self._children:
            child.terminate()
        for child in self._children:
            child.join(timeout=5)


def _serve(
    port: int, delay_s: float, posts: Any, log: str, ready: Any, control: Connection | None
) -> None:
    sys.stdout = sys.stderr = open(log, "a", buffering=1)  # noqa: SIM115 - for the process's life
    from aiohttp import web

    counts: Counter[str] = Counter()
    last = [0.0]

    async def post(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay_s)
        if control is not None:
            counts[request.match_info["id"]] += 1
            last[0] = time.monotonic()
        with posts.get_lock():
            posts.value += 1
        return web.Response(status=200)

    async def take() -> tuple[Counter[str], float]:
        taken = counts.copy(), last[0]
        counts.clear()
        last[0] = 0.0
        return taken

    def answer(loop: asyncio.AbstractEventLoop, control: Connection) -> None:
        while True:
            try:
                control.recv()
            except EOFError:
                return
            control.send(asyncio.run_coroutine_threadsafe(take(), loop).result())

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"connectedAt": "2024-01-01T00:00:00Z"})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/{stage}/@connections/{id}", post)
        app.router.add_get("/{stage}/@connections/{id}", get)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
        if control is not None:
            loop = asyncio.get_running_loop()
            threading.Thread(target=answer, args=(loop, control), daemon=True).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time process `pid` has used so far (0.0 once it is gone)."""
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
