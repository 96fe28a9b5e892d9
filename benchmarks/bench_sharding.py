"""Sharded fan-out against one invocation, on the management-API stand-in at 10 ms per POST.

For rooms of 1,000, 10,000 and 50,000 members: one sendMessage through the real `message`
handler (memory store, the `http` notifier, C=50), posting every recipient from the sender's
invocation; against the same handler with a fan-out queue, which posts the first shard and
queues the rest, taken by K worker processes (separate processes, as separate Lambda
execution environments are) each running the real `deliver` handler: its own `http`
notifier at C=50, paced at budget / K by `PacedNotifier`. Time to the last delivery is
read from the stand-in (`time.monotonic()` of the last POST it answered, one clock on the
machine), which also counts the POSTs per connection id: every member must get the frame
exactly once. Each time is put beside the ideal N / (K x C) x 10 ms, the budget floor
N / budget, and what this machine's CPU allows (the CPU the run used, over its cores).

Then DynamoDB at steady state: the requests and request units of one send into a room of
1,000 and 10,000 members, with the store's member-list cache (now) against without it (a
Query of the room's whole partition each send, as before), on moto with the units computed
from the items' sizes (moto reports a constant).

Writes build/bench/sharding.json and docs/fanout-time-to-last-delivery.png.
`python -m benchmarks.run sharding` runs this alone.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from attrs import asdict, evolve, frozen

from benchmarks.bench_fanout import BareLoop
from benchmarks.standin import StandIn, process_cpu_seconds
from roomcast.domain.fanout import Shard, rate_per_worker, workers_for
from roomcast.domain.model import Connection, ConnectionId, RoomId, UserId
from tests.support.events import message_event

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
RESULTS = BUILD / "sharding.json"
PLOT = ROOT / "docs" / "fanout-time-to-last-delivery.png"
SIZES = (1_000, 10_000, 50_000)
REPEATS = {1_000: 3, 10_000: 2, 50_000: 1}
# The default budget on every size; with ROOMCAST_BENCH_HIGHER_BUDGET=1 also one whose floor
# is half as long (K=10), on the sizes that make shards, once each. Off by default: 10,000
# posts a second through 11 processes is more than 2 cores carry (docs/performance.md).
HIGHER_BUDGET = os.environ.get("ROOMCAST_BENCH_HIGHER_BUDGET") == "1"
BUDGETS = (5_000, 10_000) if HIGHER_BUDGET else (5_000,)
HIGHER_BUDGET_SIZES = (10_000, 50_000)
POST_DELAY_S = 0.01
CONCURRENCY = 50
STANDIN_PROCESSES = 2
WARM_POSTS = 600  # past the `http` notifier's 500 posts over urllib3: warm on aiohttp
CAPACITY_POSTS = 20_000
CAPACITY_CONCURRENCY = 500
DELIVERY_TIMEOUT_S = 120.0
TEXT = "hello, big room"


# -- the stand-in's capacity ---------------------------------------------------------------

@frozen
class Capacity:
    cpu_us_per_post: float
    posts_per_s_per_core: float
    posts_per_s_on_all_cores: float
    blast_posts_per_s: float
    blast_cores_used: float


def standin_capacity(standin: StandIn) -> Capacity:
    """What the stand-in itself costs and answers: CAPACITY_POSTS from a bare aiohttp loop
    at CAPACITY_CONCURRENCY in flight (the blast is bound by the client on this machine, so
    its rate is a lower bound; the CPU per POST gives the ceiling)."""
    blast = BareLoop(standin.endpoint, CAPACITY_CONCURRENCY)
    try:
        blast(2_000)  # its session and pool
        standin.take_deliveries()
        posts, cpu, start = standin.posts, standin.cpu_seconds(), time.perf_counter()
        blast(CAPACITY_POSTS)
        wall = time.perf_counter() - start
        answered, cpu = standin.posts - posts, standin.cpu_seconds() - cpu
    finally:
        blast.close()
    standin.take_deliveries()
    if answered != CAPACITY_POSTS:
        raise RuntimeError(f"the stand-in answered {answered} of {CAPACITY_POSTS} posts")
    per_post = cpu / answered
    return Capacity(
        cpu_us_per_post=per_post * 1e6,
        posts_per_s_per_core=1 / per_post,
        posts_per_s_on_all_cores=min(STANDIN_PROCESSES, os.cpu_count() or 1) / per_post,
        blast_posts_per_s=answered / wall,
        blast_cores_used=cpu / wall,
    )


# -- the rooms and the sender ----------------------------------------------------------------

def room(members: int) -> RoomId:
    return RoomId(f"big-{members}")


def member(members: int, i: int) -> ConnectionId:
    return ConnectionId(f"n{members}-{i:05}")


WARM_ROOM = 1_000  # the sender's warm-up room (ids n1000-…, taken before each measurement)


def configure(endpoint: str) -> None:
    """This process's container: memory store, the `http` notifier at C=50, the stand-in."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1", "ROOMCAST_STORE": "memory",
        "ROOMCAST_NOTIFIER": "http", "ROOMCAST_FANOUT_CONCURRENCY": str(CONCURRENCY),
        "WEBSOCKET_ENDPOINT": endpoint,
    })
    os.environ.pop("FANOUT_QUEUE_URL", None)


def fill_rooms() -> None:
    """One room per size in the process's memory store, filled past the service."""
    from roomcast.entrypoints.containers import get_container, reset_container

    reset_container()
    store = get_container().store()
    now_ms = int(time.time() * 1000)
    for size in SIZES:
        for i in range(size):
            connection = Connection(member(size, i), UserId(f"user{i}"), now_ms,
                                    now_ms // 1000 + 7200)
            store.add(connection)
            store.join(connection, room(size), now_ms)


def send(members: int) -> None:
    """One sendMessage from the room's first member through the real `message` handler."""
    from roomcast.entrypoints.aws_lambda import handlers

    body = {"action": "sendMessage", "roomId": room(members).value, "message": TEXT}
    with contextlib.redirect_stdout(io.StringIO()):  # its EMF line, not onto the report
        response = handlers.message(message_event(member(members, 0).value, body), None)
    if response["statusCode"] != 200:
        raise RuntimeError(f"sendMessage answered {response}")


class ProcessQueue:
    """The FanoutQueue port over a multiprocessing queue: each shard crosses as the JSON
    body SQS would carry, and the queue itself costs no network time (SQS's
    SendMessageBatch and the event source mapping's polling would add some)."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def enqueue(self, shards: Sequence[Shard], delay_seconds: int = 0) -> list[Shard]:
        for shard in shards:
            self._channel.put(shard.to_json())
        return []


@contextlib.contextmanager
def sharded(channel: Any) -> Iterator[None]:
    """The process's container with the fan-out queue set to `channel`."""
    from dependency_injector import providers

    from roomcast.entrypoints.containers import get_container

    container = get_container()
    container.fanout_queue.override(providers.Object(ProcessQueue(channel)))
    try:
        yield
    finally:
        container.fanout_queue.reset_override()


# -- the deliver workers -------------------------------------------------------------------

class Workers:
    """K processes, each a deliver function's execution environment: the real `deliver`
    handler, its own container, notifier and ledger, taking one shard at a time as an SQS
    event source mapping with MaximumConcurrency K and a batch size of 1 would hand them."""

    def __init__(self, budget: int, endpoint: str, log: Path) -> None:
        self.budget = budget
        self.count = workers_for(budget)
        context = multiprocessing.get_context("spawn")
        self.channel: Any = context.Queue()
        ready = [context.Event() for _ in range(self.count)]
        self._processes = [
            context.Process(
                target=_work, args=(i, budget, endpoint, self.channel, event, str(log)),
                daemon=True,
            )
            for i, event in enumerate(ready)
        ]
        for process in self._processes:
            process.start()
        if not all(event.wait(timeout=120) for event in ready):
            self.stop()
            raise RuntimeError(f"the deliver workers did not start; see {log}")

    def cpu_seconds(self) -> float:
        return sum(self.each_cpu_seconds())

    def each_cpu_seconds(self) -> list[float]:
        return [process_cpu_seconds(p.pid) if p.pid else 0.0 for p in self._processes]

    def stop(self) -> None:
        for _ in self._processes:
            self.channel.put(None)
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def _work(index: int, budget: int, endpoint: str, channel: Any, ready: Any, log: str) -> None:
    sys.stdout = sys.stderr = open(log, "a", buffering=1)  # noqa: SIM115 - for the process's life
    configure(endpoint)
    os.environ["ROOMCAST_CALLBACK_BUDGET"] = str(budget)
    from roomcast.domain import frames
    from roomcast.entrypoints.aws_lambda import handlers

    with sharded(channel):
        # A warm execution environment: its container, notifier and aiohttp pool built.
        warm = Shard(
            f"warm-{index}", RoomId("warm"), frames.pong(0),
            [ConnectionId(f"warm-{index}-{i}") for i in range(WARM_POSTS)],
        )
        _deliver(handlers, warm.to_json(), "warm")
        ready.set()
        taken = 0
        while (body := channel.get()) is not None:
            taken += 1
            _deliver(handlers, body, f"{index}-{taken}")


def _deliver(handlers: Any, body: str, message_id: str) -> None:
    answer = handlers.deliver({"Records": [{"messageId": message_id, "body": body}]}, None)
    if answer["batchItemFailures"]:
        print(f"deliver failed: {answer}", flush=True)


# -- one measurement -----------------------------------------------------------------------

@frozen
class Run:
    mode: str  # "single" or "sharded"
    members: int
    workers: int  # K: 1 for a single invocation
    budget: int | None
    last_delivery_s: float
    handler_s: float  # until the sender's handler returned
    standin_cores: float  # the stand-in's CPU over the run's wall time
    cpu_s: float  # every process of the run: sender, workers, stand-in
    cpu_us_per_post: float
    busiest_worker_cpu_s: float  # the sender's own, or the busiest deliver worker's
    cpu_pressure: float  # /proc/pressure/cpu "some": share of the run something waited for CPU

    @property
    def ideal_s(self) -> float:
        return self.members / (self.workers * CONCURRENCY) * POST_DELAY_S

    @property
    def budget_floor_s(self) -> float:
        return 0.0 if self.budget is None else self.members / self.budget

    @property
    def machine_floor_s(self) -> float:
        """The CPU this run spent, on all of the machine's cores at once."""
        return self.cpu_s / (os.cpu_count() or 1)

    @property
    def cores_received(self) -> float:
        """How many of the machine's cores this run's processes had, on average."""
        return self.cpu_s / self.last_delivery_s

    @property
    def bound_s(self) -> float:
        return max(self.ideal_s, self.budget_floor_s)

    @property
    def over_bound(self) -> float:
        return self.last_delivery_s / self.bound_s


def measure(
    standin: StandIn, mode: str, members: int, workers: Workers | None,
) -> Run:
    standin.take_deliveries()
    posts = standin.posts
    cpu_before = _cpu(standin, workers)
    each_before = [] if workers is None else workers.each_cpu_seconds()
    pressure = cpu_pressure_us()
    start = time.monotonic()
    send(members)
    handler_s = time.monotonic() - start
    deadline = start + DELIVERY_TIMEOUT_S
    while standin.posts - posts < members:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{mode} {members:,}: {standin.posts - posts} posts answered "
                               f"after {DELIVERY_TIMEOUT_S:.0f} s")
        time.sleep(0.002)
    wall = time.monotonic() - start
    pressure = (cpu_pressure_us() - pressure) / (wall * 1e6)
    each = ([cpu_before[0], *each_before],
            [time.process_time(), *([] if workers is None else workers.each_cpu_seconds())])
    busiest = max(after - before for before, after in zip(*each, strict=True))
    time.sleep(0.05)  # a duplicate still in flight would land now
    counts, last = standin.take_deliveries()
    cpu_after = _cpu(standin, workers)
    check_exactly_once(counts, members, mode)
    cpu = sum(cpu_after) - sum(cpu_before)
    return Run(
        mode=mode, members=members, workers=1 if workers is None else workers.count,
        budget=None if workers is None else workers.budget,
        last_delivery_s=last - start, handler_s=handler_s,
        standin_cores=(cpu_after[2] - cpu_before[2]) / wall, cpu_s=cpu,
        cpu_us_per_post=cpu / members * 1e6, busiest_worker_cpu_s=busiest,
        cpu_pressure=pressure,
    )


def cpu_pressure_us() -> float:
    """Linux's pressure stall total for CPU ("some"), in microseconds; 0.0 without PSI."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return 0.0
    return float(some.rpartition("total=")[2])


def _cpu(standin: StandIn, workers: Workers | None) -> tuple[float, float, float]:
    return (time.process_time(), 0.0 if workers is None else workers.cpu_seconds(),
            standin.cpu_seconds())


def check_exactly_once(counts: Counter[str], members: int, mode: str) -> None:
    expected = {member(members, i).value for i in range(members)}
    missing = expected - counts.keys()
    extra = counts.keys() - expected
    twice = [c for c in expected if counts[c] > 1]
    if missing or extra or twice:
        raise RuntimeError(
            f"{mode} {members:,}: {len(missing)} members got nothing, {len(twice)} got it more "
            f"than once, {len(extra)} posts went to ids outside the room"
        )


def run_all(standin: StandIn) -> list[Run]:
    runs: list[Run] = []
    send(WARM_ROOM)  # the sender's notifier and pool, warm
    for members in SIZES:
        for _ in range(REPEATS[members]):
            runs.append(measure(standin, "single", members, None))
    for budget in BUDGETS:
        workers = Workers(budget, standin.endpoint, BUILD / "sharding-workers.log")
        try:
            with sharded(workers.channel):
                send(WARM_ROOM)
                for members in SIZES if budget == BUDGETS[0] else HIGHER_BUDGET_SIZES:
                    for _ in range(REPEATS[members] if budget == BUDGETS[0] else 1):
                        runs.append(measure(standin, "sharded", members, workers))
        finally:
            workers.stop()
    return runs


# -- DynamoDB at steady state --------------------------------------------------------------

DYNAMODB_MEASURED = 1_000  # filled and sent into on moto
# Computed from the measured room's bytes per member: 10,000 on moto takes about 30 s more
# (one run measured 3 requests and 380 RRU without the cache, as the arithmetic says).
DYNAMODB_COMPUTED = (10_000, 50_000)
READ_UNIT_BYTES, WRITE_UNIT_BYTES = 4096, 1024
QUERY_PAGE_BYTES = 1 << 20


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: each attribute's name plus its value."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    [(kind, data)] = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return 1 + math.ceil(len(digits) / 2)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_bytes(v) for k, v in data.items())
    raise ValueError(f"an attribute of unknown type {kind}")


class Units:
    """The requests a client makes and the request units DynamoDB would bill for them:
    strongly consistent reads at 1 per 4 KB (a Query's items summed per page, a GetItem
    at least 1), transactional writes at 2 per KB of each item (an Update's item at the
    size of the head it rewrites, as last read)."""

    def __init__(self, client: Any) -> None:
        self.requests: list[str] = []
        self.read_units = 0.0
        self.write_units = 0.0
        self.bytes_read = 0
        self._head_bytes = 0
        client.meta.events.register("after-call.dynamodb", self._after)
        client.meta.events.register("before-parameter-build.dynamodb", self._before)

    def clear(self) -> None:
        self.requests.clear()
        self.read_units = self.write_units = 0.0
        self.bytes_read = 0

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.requests.append(model.name)
        if model.name == "Query":
            found = sum(item_bytes(item) for item in parsed.get("Items", []))
            self.bytes_read += found
            self.read_units += max(1, math.ceil(found / READ_UNIT_BYTES))
            for item in parsed.get("Items", []):
                if item.get("sk", {}).get("S") == "LOG":
                    self._head_bytes = item_bytes(item)
        elif model.name == "GetItem":
            found = item_bytes(parsed.get("Item", {}))
            self.bytes_read += found
            self.read_units += max(1, math.ceil(found / READ_UNIT_BYTES))
            if parsed.get("Item", {}).get("sk", {}).get("S") == "LOG":
                self._head_bytes = found

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    size = item_bytes(entry["Put"]["Item"])
                else:
                    size = max(self._head_bytes, 1)
                self.write_units += 2 * math.ceil(size / WRITE_UNIT_BYTES)


@frozen
class SteadySend:
    members: int
    cached: bool
    requests: tuple[str, ...]
    read_units: float
    write_units: float
    bytes_read: int
    client_ms: float | None  # None: computed, not measured


def dynamodb_report() -> list[SteadySend]:
    """A steady send (the process read the room before, nobody joined since) with the
    member-list cache against one whose cache is emptied before each send."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(name, None)
    from moto import mock_aws

    from tests.support import moto_transactions

    moto_transactions.install()
    with mock_aws():
        measured = _steady_sends(DYNAMODB_MEASURED)
    return measured + [s for n in DYNAMODB_COMPUTED for s in _computed(measured, n)]


def _computed(measured: Sequence[SteadySend], members: int) -> list[SteadySend]:
    """A room of `members` from the measured one: the cached send does not depend on the
    room's size; the uncached Query reads every member's item, in pages of 1 MB, each page
    billed at 1 RRU per 4 KB."""
    cached, uncached = (next(s for s in measured if s.cached is c) for c in (True, False))
    head = cached.bytes_read
    per_member = (uncached.bytes_read - head) / DYNAMODB_MEASURED
    total = members * per_member + head
    per_page = QUERY_PAGE_BYTES // per_member * per_member
    pages = math.ceil(total / per_page)
    read_units = sum(
        math.ceil(min(per_page, total - page * per_page) / READ_UNIT_BYTES)
        for page in range(pages)
    )
    return [
        evolve(cached, members=members, client_ms=None),
        evolve(uncached, members=members, requests=("Query",) * pages + ("TransactWriteItems",),
               read_units=read_units, bytes_read=round(total), client_ms=None),
    ]


def _steady_sends(members: int) -> list[SteadySend]:
    from roomcast.adapters.clocks import SystemClock
    from roomcast.adapters.dynamodb_history import DynamoDBRoomLog
    from roomcast.adapters.dynamodb_items import membership_to_item
    from roomcast.adapters.dynamodb_store import DynamoDBConnectionStore, make_dynamodb_client
    from roomcast.adapters.fake_notifier import FakeNotifier
    from roomcast.domain.model import Membership
    from roomcast.domain.service import ChatService
    from tests.support.dynamodb_tables import create_table

    client = make_dynamodb_client("us-east-1")
    table = f"bench-{members}"
    create_table(client, table)
    clock = SystemClock()
    now_ms = clock.now_ms()
    lobby = RoomId(f"lobby-{members}")
    ids = [ConnectionId(f"conn-{i:05}-{'x' * 16}") for i in range(members)]
    for start in range(0, members, 25):
        client.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": membership_to_item(Membership(
                c, lobby, UserId(f"user-{c.value[5:10]}"), now_ms, now_ms // 1000 + 7200))}}
            for c in ids[start:start + 25]
        ]})
    store = DynamoDBConnectionStore(client, table, clock)
    service = ChatService(store, FakeNotifier(), clock,
                          log=DynamoDBRoomLog(client, table, clock))
    units = Units(client)
    service.send(ids[0], lobby, "first")  # the head exists and this process knows the room
    results = []
    for cached in (True, False):
        if not cached:
            store._known.clear()  # the old path: no member list kept
        units.clear()
        began = time.perf_counter()
        service.send(ids[0], lobby, TEXT)
        client_ms = (time.perf_counter() - began) * 1e3
        results.append(SteadySend(
            members, cached, tuple(units.requests), units.read_units, units.write_units,
            units.bytes_read, client_ms,
        ))
    client.delete_table(TableName=table)
    return results


# -- the report ------------------------------------------------------------------------------

def report() -> dict[str, Any]:
    """Run the sharding benchmark, print its tables, write its JSON and plot."""
    started = time.perf_counter()
    log = BUILD / "standin-sharding.log"
    standin = StandIn(POST_DELAY_S, STANDIN_PROCESSES, log, record=True)
    try:
        configure(standin.endpoint)
        fill_rooms()
        capacity = standin_capacity(standin)
        runs = run_all(standin)
    finally:
        from roomcast.entrypoints.containers import reset_container

        reset_container()
        standin.stop()
    fanout_s = time.perf_counter() - started
    sends = dynamodb_report()
    results = summarise(runs, capacity, sends, fanout_s, time.perf_counter() - started)
    for line in lines(results):
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**results, "runs": [asdict(r) for r in runs]}, indent=2))
    plot(results)
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    return results


def best(runs: Sequence[Run], mode: str, members: int, budget: int | None) -> Run:
    return min((r for r in runs if (r.mode, r.members, r.budget) == (mode, members, budget)),
               key=lambda r: r.last_delivery_s)


def summarise(
    runs: Sequence[Run], capacity: Capacity, sends: Sequence[SteadySend], fanout_s: float,
    total_s: float,
) -> dict[str, Any]:
    rows = []
    for budget in (None, *BUDGETS):
        for members in SIZES if budget in (None, BUDGETS[0]) else HIGHER_BUDGET_SIZES:
            run = best(runs, "single" if budget is None else "sharded", members, budget)
            rows.append({
                **asdict(run), "ideal_s": run.ideal_s, "budget_floor_s": run.budget_floor_s,
                "machine_floor_s": run.machine_floor_s, "cores_received": run.cores_received,
                "own_cores_estimate_s": max(run.bound_s, run.busiest_worker_cpu_s),
                "standin_floor_s": members / capacity.posts_per_s_on_all_cores,
                "over_bound": run.over_bound,
                "over_single": run.last_delivery_s / best(runs, "single", members, None)
                .last_delivery_s,
            })
    target = next(r for r in rows if (r["members"], r["budget"]) == (50_000, BUDGETS[0]))
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "post_delay_ms": POST_DELAY_S * 1e3, "concurrency": CONCURRENCY,
        "shard_size": _shard_size(),
        "standin": {"processes": STANDIN_PROCESSES, **asdict(capacity)},
        "rows": rows,
        "target_50000": {"over_bound": target["over_bound"], "at_most": 1.5},
        "dynamodb": [asdict(s) for s in sends],
        "bench_seconds": {"fanout": fanout_s, "total": total_s},
    }


def _shard_size() -> int:
    from roomcast.domain.fanout import DEFAULT_SHARD_SIZE

    return DEFAULT_SHARD_SIZE


def lines(results: dict[str, Any]) -> list[str]:
    standin = results["standin"]
    out = [
        "",
        f"sharded fan-out, {results['post_delay_ms']:.0f} ms per POST, C={results['concurrency']}"
        f" per notifier, shards of {results['shard_size']:,}; stand-in: "
        f"{standin['processes']} aiohttp processes, {standin['cpu_us_per_post']:.0f} us CPU per "
        f"POST = {standin['posts_per_s_per_core']:,.0f} POSTs/s per core, "
        f"{standin['posts_per_s_on_all_cores']:,.0f}/s on {results['machine']['cpus']} cores; "
        f"a bare client at C={CAPACITY_CONCURRENCY} got {standin['blast_posts_per_s']:,.0f}/s "
        f"from it (the client's CPU bound; the stand-in used "
        f"{standin['blast_cores_used']:.2f} cores)",
        f"{'members':>8} {'mode':<22} {'last delivery':>13} {'ideal':>8} {'budget':>8} "
        f"{'/max(ideal,budget)':>18} {'own CPU':>8} {'machine':>8} {'/machine':>8} {'ours':>5} "
        f"{'stand-in':>8} {'PSI':>4} {'/single':>8}",
    ]
    for row in results["rows"]:
        mode = ("single, K=1" if row["budget"] is None
                else f"sharded, K={row['workers']}, {row['budget']:,}/s")
        budget = "-" if row["budget"] is None else f"{row['budget_floor_s']:.2f} s"
        out.append(
            f"{row['members']:>8,} {mode:<22} {row['last_delivery_s']:>11.2f} s "
            f"{row['ideal_s']:>6.2f} s {budget:>8} {row['over_bound']:>17.2f}x "
            f"{row['busiest_worker_cpu_s']:>6.2f} s "
            f"{row['machine_floor_s']:>6.2f} s "
            f"{row['last_delivery_s'] / row['machine_floor_s']:>7.2f}x "
            f"{row['cores_received']:>5.2f} {row['standin_cores']:>8.2f} "
            f"{row['cpu_pressure']:>4.0%} {row['over_single']:>7.2f}x"
        )
    target = results["target_50000"]
    out.append(
        f"target at 50,000 members, budget {BUDGETS[0]:,}: sharded / max(ideal, budget floor) = "
        f"{target['over_bound']:.2f}x (at most {target['at_most']}x). 'machine' is the CPU the "
        f"run spent (sender, workers, stand-in) over {results['machine']['cpus']} cores: "
        "a ratio near 1x there means this machine, not the design, set the time; 'ours' "
        "and 'stand-in' are the cores all of the run's processes, and the stand-in alone, "
        "had on average; PSI is the share of the run in which some task on the machine "
        "waited for a CPU (/proc/pressure/cpu); 'own CPU' is the CPU time of the busiest "
        "notifying process (the sender alone, or the busiest worker), what that process "
        "would need of a core of its own"
    )
    out.append("DynamoDB per steady send (moto; units from the items' sizes, "
               "strongly consistent reads, transactional writes):")
    for send in results["dynamodb"]:
        label = "member list cached (now)" if send["cached"] else "no cache (before: Query)"
        out.append(
            f"  {send['members']:>6,} members, {label:<26} {len(send['requests'])} requests "
            f"({' + '.join(send['requests'])}), {send['read_units']:,.0f} RRU "
            f"({send['bytes_read'] / 1024:,.0f} KB read), {send['write_units']:.0f} WRU, "
            + ("computed from the 1,000" if send["client_ms"] is None
               else f"client {send['client_ms']:.0f} ms on moto")
        )
    seconds = results["bench_seconds"]
    out.append(f"(this bench: {seconds['total']:.0f} s, of which fan-out "
               f"{seconds['fanout']:.0f} s)")
    return out


def _of_budget(budget: int) -> Callable[[dict[str, Any]], bool]:
    return lambda row: bool(row["budget"] == budget)


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = results["rows"]
    cores = [r["cores_received"] for r in rows]
    pressure = [r["cpu_pressure"] for r in rows]
    figure, axes = pyplot.subplots(figsize=(9, 5.5), dpi=110)
    series: list[tuple[str, Callable[[dict[str, Any]], bool], str, str, str]] = [
        ("one invocation, C=50", lambda r: r["budget"] is None, "last_delivery_s", "-o",
         "tab:red"),
    ]
    colours = ("tab:green", "tab:blue")
    for budget, colour in zip(BUDGETS, colours[:len(BUDGETS)], strict=True):
        k = workers_for(budget)
        series += [
            (f"sharded, K={k} workers @ {rate_per_worker(budget):,.0f}/s each "
             f"(budget {budget:,}/s)", _of_budget(budget), "last_delivery_s", "-o", colour),
            (f"budget floor N / {budget:,}/s"
             + (" (= one invocation's ideal)" if budget == CONCURRENCY / POST_DELAY_S else ""),
             _of_budget(budget), "budget_floor_s", ":", colour),
            (f"ideal N / (K={k} x 50) x 10 ms", _of_budget(budget), "ideal_s", "--", colour),
        ]
    series.append(("ideal N / 50 x 10 ms (one invocation)", lambda r: r["budget"] is None,
                   "ideal_s", "--", "tab:red"))
    for label, chosen, key, style, colour in series:
        points = [(r["members"], r[key]) for r in rows if chosen(r)]
        axes.plot(*zip(*points, strict=True), style, color=colour, label=label,
                  alpha=1.0 if style.endswith("o") else 0.7, linewidth=3 if style == ":" else 1.5)
    axes.set(
        xscale="log", yscale="log", xlabel="room members",
        ylabel="time to the last delivery (s)",
        title=f"One sendMessage to a big room, {results['post_delay_ms']:.0f} ms per POST, "
        f"shards of {results['shard_size']:,}, {results['machine']['cpus']} cores\n"
        f"(a shared machine: the bench's processes had {min(cores):.2f}-{max(cores):.2f} "
        f"cores; CPU pressure {min(pressure):.0%}-{max(pressure):.0%})",
    )
    axes.set_xticks(list(SIZES), [f"{n:,}" for n in SIZES])
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT)


if __name__ == "__main__":
    report()
