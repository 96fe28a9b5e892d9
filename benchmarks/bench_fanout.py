"""Fan-out through the real `message` handler (memory store, each notifier in turn) against a
management-API stand-in in its own processes that answers each POST after 10 ms, as API
Gateway takes network time; the baseline is a bare aiohttp loop posting the same frame with
the same concurrency to the same stand-in. Writes build/bench/fanout.json and docs/fanout.png.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from attrs import asdict, frozen
from botocore.utils import percent_encode

from benchmarks.standin import StandIn
from roomcast.adapters.background_loop import BackgroundLoop
from roomcast.domain import frames
from roomcast.domain.model import Connection, ConnectionId, Message, RoomId, UserId
from roomcast.entrypoints.aws_lambda import handlers
from roomcast.entrypoints.containers import get_container, reset_container
from tests.support.events import message_event

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "build" / "bench" / "fanout.json"
PLOT = ROOT / "docs" / "fanout.png"
SIZES = (100, 1_000, 5_000)
CONCURRENCIES = (50, 200)
REPEATS = {100: 5, 1_000: 5, 5_000: 3}
POST_DELAY_S = 0.01
STANDIN_PROCESSES = 2
SYNC_BUDGET_S = 60.0
TEXT = "hello, room"
NOTIFIER_NAMES = {
    "bare": "bare aiohttp loop",
    "http": "http (signed aiohttp)",
    "async": "async (aiobotocore)",
    "sync": "sync (boto3)",
}


@frozen
class Run:
    notifier: str
    concurrency: int | None
    members: int
    wall_s: float
    cpu_us_per_recipient: float
    standin_cpu_s: float


def room(members: int) -> RoomId:
    return RoomId(f"room-{members}")


def member(members: int, i: int) -> ConnectionId:
    return ConnectionId(f"m{members}-{i:05}")


def fill_rooms() -> None:
    """A process-wide container on a memory store already holding one room per size (filled
    past the service: joining one by one would time the userJoined fan-out instead)."""
    os.environ["ROOMCAST_STORE"] = "memory"
    os.environ.pop("WEBSOCKET_ENDPOINT", None)
    reset_container()
    store = get_container().store()
    now_ms = int(time.time() * 1000)
    for size in SIZES:
        for i in range(size):
            expires_s = now_ms // 1000 + 7200
            connection = Connection(member(size, i), UserId(f"user{i}"), now_ms, expires_s)
            store.add(connection)
            store.join(connection, room(size), now_ms)


class HandlerFanout:
    """The Lambda `message` handler serving a sendMessage, with this notifier and concurrency
    chosen through the container's configuration (a stage of its own per notifier, so each
    gets its own cached notifier, built once as in a warm execution environment)."""

    def __init__(self, notifier: str, concurrency: int, standin: StandIn) -> None:
        self._notifier = notifier
        self._concurrency = concurrency
        self._endpoint = f"http://127.0.0.1:{standin.port}/bench-{notifier}-c{concurrency}"

    def __call__(self, members: int) -> None:
        config = get_container().config
        body = {"action": "sendMessage", "roomId": room(members).value, "message": TEXT}
        # The handler still writes its EMF metrics line, as on Lambda, but not onto the report.
        with (
            config.notifier.override(self._notifier),
            config.fanout_concurrency.override(self._concurrency),
            config.websocket_endpoint.override(self._endpoint),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            response = handlers.message(message_event(member(members, 0).value, body), None)
        if response["statusCode"] != 200:
            raise RuntimeError(f"sendMessage answered {response}")

    def close(self) -> None:
        """The notifiers close with the container (reset_container)."""


class BareLoop:
    """What any notifier must at least do: one aiohttp session, a pool of C connections, at
    most C POSTs in flight, one pre-encoded body; no signing, no retries, no handler."""

    def __init__(self, endpoint: str, concurrency: int) -> None:
        self._endpoint = endpoint
        self._concurrency = concurrency
        self._loop = BackgroundLoop(name="bench-bare")
        self._session: aiohttp.ClientSession | None = None
        said = Message(room(0), TEXT, UserId("user0"), 1_700_000_000_000, seq=1)
        self._data = frames.message(said).encode()

    def __call__(self, members: int) -> None:
        self._loop.run(self._post_all([member(members, i) for i in range(members)]))

    async def _post_all(self, recipients: Sequence[ConnectionId]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency)
            )
        slots = asyncio.Semaphore(self._concurrency)
        await asyncio.gather(*(self._post(slots, c) for c in recipients))

    async def _post(self, slots: asyncio.Semaphore, connection_id: ConnectionId) -> None:
        assert self._session is not None
        url = f"{self._endpoint}/@connections/{percent_encode(connection_id.value)}"
        async with slots, self._session.post(url, data=self._data) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"the stand-in answered {response.status}")

    def close(self) -> None:
        if self._session is not None:
            self._loop.run(self._session.close())
        self._loop.stop()


def measure(
    standin: StandIn,
    name: str,
    concurrency: int | None,
    members: int,
    fan_out: Callable[[int], None],
) -> Run:
    posts, standin_cpu = standin.posts, standin.cpu_seconds()
    cpu, start = time.process_time(), time.perf_counter()
    fan_out(members)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if standin.posts - posts != members:
        raise RuntimeError(f"{name}: the stand-in answered {standin.posts - posts} of {members}")
    standin_cpu = standin.cpu_seconds() - standin_cpu
    return Run(name, concurrency, members, wall, cpu / members * 1e6, standin_cpu)


def run_all(standin: StandIn) -> list[Run]:
    runs: list[Run] = []
    for concurrency in CONCURRENCIES:
        subjects: dict[str, Any] = {
            "bare": BareLoop(standin.endpoint, concurrency),
            **{n: HandlerFanout(n, concurrency, standin) for n in ("http", "async")},
        }
        try:
            for fan_out in subjects.values():
                fan_out(SIZES[1])  # clients, loops and full pools: built once per environment
            for members in SIZES:
                for _ in range(REPEATS[members]):  # interleaved: drifting load hits all alike
                    for name, fan_out in subjects.items():
                        runs.append(measure(standin, name, concurrency, members, fan_out))
        finally:
            for fan_out in subjects.values():
                fan_out.close()
    return runs + sequential_runs(standin)


def sequential_runs(standin: StandIn) -> list[Run]:
    """boto3 one post at a time: the concurrency does not apply; skipped where it would take
    longer than SYNC_BUDGET_S, projected from the previous size."""
    sync = HandlerFanout("sync", 1, standin)
    runs: list[Run] = []
    try:
        sync(SIZES[0])
        for members in SIZES:
            if runs and runs[-1].wall_s / runs[-1].members * members > SYNC_BUDGET_S:
                print(f"sync boto3 at {members:,} members skipped: over {SYNC_BUDGET_S:.0f} s")
                continue
            runs.append(measure(standin, "sync", None, members, sync))
    finally:
        sync.close()
    return runs


def best(runs: Sequence[Run], notifier: str, concurrency: int | None, members: int) -> Run | None:
    matching = [
        r for r in runs
        if (r.notifier, r.members) == (notifier, members)
        and (r.concurrency == concurrency or r.notifier == "sync")
    ]
    return min(matching, key=lambda r: r.wall_s, default=None)


def report() -> dict[str, Any]:
    """Run the fan-out benchmark, print its table, and write its JSON and plot."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    standin = StandIn(POST_DELAY_S, STANDIN_PROCESSES, ROOT / "build" / "bench" / "standin.log")
    try:
        fill_rooms()
        started = time.perf_counter()
        runs = run_all(standin)
        capacity = standin_capacity(standin, runs, time.perf_counter() - started)
    finally:
        reset_container()
        standin.stop()
    results = summarise(runs, capacity)
    print_table(results)
    write(results, runs)
    return results


def standin_capacity(standin: StandIn, runs: Sequence[Run], elapsed_s: float) -> dict[str, float]:
    """The stand-in's own cost per POST, measured on its processes during this run."""
    cpu_per_post = standin.cpu_seconds() / max(standin.posts, 1)
    # Runs shorter than about 20 of /proc's 10 ms ticks cannot tell its load apart.
    busiest = max(r.standin_cpu_s / r.wall_s for r in runs if r.wall_s >= 0.2)
    return {
        "processes": STANDIN_PROCESSES,
        "cpu_us_per_post": cpu_per_post * 1e6,
        "posts_per_s_per_core": 1 / cpu_per_post,
        "posts_per_s_all_processes": min(STANDIN_PROCESSES, os.cpu_count() or 1) / cpu_per_post,
        "busiest_run_cores_used": busiest,
        "bench_seconds": elapsed_s,
    }


def summarise(runs: Sequence[Run], capacity: dict[str, float]) -> dict[str, Any]:
    rows = []
    for members in SIZES:
        for concurrency in CONCURRENCIES:
            row: dict[str, Any] = {"members": members, "concurrency": concurrency}
            for name in NOTIFIER_NAMES:
                run = best(runs, name, concurrency, members)
                row[name] = None if run is None else run.wall_s
                row[f"{name}_cpu_us"] = None if run is None else run.cpu_us_per_recipient
            rows.append(row)
    target = next(r for r in rows if (r["members"], r["concurrency"]) == (1_000, 50))
    return {
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "post_delay_ms": POST_DELAY_S * 1e3,
        "standin": capacity,
        "rows": rows,
        "targets_1000_c50": {
            "http_over_bare": target["http"] / target["bare"],
            "sync_over_http": target["sync"] / target["http"] if target["sync"] else None,
        },
    }


def print_table(results: dict[str, Any]) -> None:
    standin = results["standin"]
    print(
        f"\nfan-out through the message handler, {results['post_delay_ms']:.0f} ms per POST; "
        f"stand-in: {standin['processes']} aiohttp processes, "
        f"{standin['cpu_us_per_post']:.0f} us CPU per POST = "
        f"{standin['posts_per_s_per_core']:,.0f} POSTs/s per core; the busiest run kept it "
        f"{standin['busiest_run_cores_used']:.0%} of one core busy"
    )
    names = " ".join(f"{NOTIFIER_NAMES[n]:>22}" for n in NOTIFIER_NAMES)
    print(f"{'members':>8} {'C':>4} {names}")
    for row in results["rows"]:
        cells = []
        for name in NOTIFIER_NAMES:
            seconds = row[name]
            ratio = "" if seconds is None else f" {seconds / row['bare']:5.2f}x"
            cells.append(f"{'-' if seconds is None else f'{seconds:.3f} s'}{ratio}".rjust(22))
        print(f"{row['members']:>8,} {row['concurrency']:>4} " + " ".join(cells))
    rows = results["rows"]
    cpu = {n: [r[f"{n}_cpu_us"] for r in rows if r[f"{n}_cpu_us"]] for n in NOTIFIER_NAMES}
    print("CPU per recipient in the notifying process (median over rows): " + ", ".join(
        f"{n} {sorted(v)[len(v) // 2] / 1e3:.2f} ms" for n, v in cpu.items() if v
    ))
    targets = results["targets_1000_c50"]
    print(
        f"targets at 1,000 members, C=50: http / bare = {targets['http_over_bare']:.2f}x "
        f"(at most 1.3x); sync / http = {targets['sync_over_http'] or float('nan'):.1f}x "
        f"(at least 15x)"
    )


def write(results: dict[str, Any], runs: Sequence[Run]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**results, "runs": [asdict(r) for r in runs]}, indent=2))
    plot(results)
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


COLOURS = {"bare": "tab:gray", "http": "tab:green", "async": "tab:blue", "sync": "tab:red"}


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 4.5), dpi=110)
    for name in NOTIFIER_NAMES:
        for concurrency in CONCURRENCIES if name != "sync" else CONCURRENCIES[:1]:
            _plot_line(axes, results["rows"], name, concurrency)
    ideal = [(n, -(-n // CONCURRENCIES[0]) * POST_DELAY_S) for n in SIZES]
    axes.plot(*zip(*ideal, strict=True), ":", color="black", label="ceil(N/50) x 10 ms")
    axes.set(
        xscale="log", yscale="log", xlabel="room members", ylabel="fan-out time (s)",
        title=f"One sendMessage, {results['post_delay_ms']:.0f} ms per POST, "
        f"{results['machine']['cpus']} cores",
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT)


def _plot_line(axes: Any, rows: list[dict[str, Any]], name: str, concurrency: int) -> None:
    points = [
        (r["members"], r[name]) for r in rows
        if r["concurrency"] == concurrency and r[name] is not None
    ]
    label = NOTIFIER_NAMES[name] + ("" if name == "sync" else f", C={concurrency}")
    style = "--" if concurrency == CONCURRENCIES[-1] and name != "sync" else "-"
    axes.plot(*zip(*points, strict=True), style, marker="o", color=COLOURS[name], label=label)
