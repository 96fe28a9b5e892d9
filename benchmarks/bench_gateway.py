"""`roomcast serve` under load against a bare aiohttp broadcast server, same clients, same run.

Each server runs in a process of its own and the clients (benchmarks/gateway_clients.py) in
another: 500 clients in 10 rooms join at once, send a burst, then paced messages; then
2,000 idle connections against a fresh server for its peak RSS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "build" / "bench-gateway.json"
CLIENTS, ROOMS, BURST, PACED, IDLE = 500, 10, 2, 100, 2000
SERVERS = {
    "bare aiohttp": [sys.executable, "-m", "benchmarks.bare_broadcast"],
    "serve inprocess": [sys.executable, "-m", "roomcast.entrypoints.cli", "serve", "--port", "0",
                        "--notifier", "inprocess"],
    "serve http": [sys.executable, "-m", "roomcast.entrypoints.cli", "serve", "--port", "0",
                   "--notifier", "http"],
}
READY = re.compile(r"listening on (\d+)|WebSocket:\s+(ws://\S+)")


@contextmanager
def running(command: list[str]) -> Iterator[tuple[str, int]]:
    """The server's WebSocket URL and pid; its output goes to a file, never a pipe."""
    with tempfile.TemporaryFile("w+") as output:
        server = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield _url_when_ready(server, output), server.pid
        finally:
            server.terminate()
            server.wait(30)


def _url_when_ready(server: subprocess.Popen[bytes], output: Any) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        output.seek(0)
        found = READY.search(output.read())
        if found:
            return found[2] or f"ws://127.0.0.1:{found[1]}/dev"
        time.sleep(0.1)
    output.seek(0)
    raise RuntimeError(f"{server.args!r} did not start:\n{output.read()}")


def harness(url: str, *arguments: object) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.gateway_clients", url, *map(str, arguments)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"client harness failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


def kilobytes(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M)[1])  # type: ignore[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (proc(5): fields 14 and 15, in ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rooms_run(name: str) -> dict[str, Any]:
    """The scenario, and the server's own CPU per 1,000 frames: its capacity, whatever the
    clients' (both share this machine's two cores)."""
    with running(SERVERS[name]) as (url, pid):
        before = cpu_seconds(pid)
        repeats = 1 if name == "serve http" else 3  # http: a minute a burst
        result = harness(url, "rooms", CLIENTS, ROOMS, BURST, PACED, repeats)
        used = cpu_seconds(pid) - before
    return {**result, "server_cpu_ms_per_1k_frames": 1e6 * used / result["frames_received"]}


def idle_run(name: str) -> dict[str, Any]:
    with running(SERVERS[name]) as (url, pid):
        before = kilobytes(pid, "VmRSS")
        result = harness(url, "idle", IDLE, 2)
        return {**result, "rss_before_kb": before, "peak_rss_kb": kilobytes(pid, "VmHWM")}


def gateway_report() -> dict[str, Any]:
    report = {name: rooms_run(name) for name in SERVERS}
    for name in ("bare aiohttp", "serve inprocess"):
        report[name].update(idle_run(name))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    return report


def lines(report: dict[str, Any]) -> list[str]:
    bare = report["bare aiohttp"]
    out = [f"gateway, {CLIENTS} clients in {ROOMS} rooms (bare aiohttp server: "
           f"{bare['frames_per_second']:,.0f} frames/s, join {bare['join_seconds']:.2f} s, "
           f"paced p99 {bare['paced_p99_ms']:.1f} ms, own CPU "
           f"{bare['server_cpu_ms_per_1k_frames']:.0f} ms per 1k frames)"]
    for name in ("serve inprocess", "serve http"):
        r = report[name]
        ratio = {key: r[key] / bare[key] for key in bare if isinstance(bare[key], float)}
        out.append(
            f"  {name:<16} frames/s {ratio['frames_per_second']:5.2f}x "
            f"({r['frames_per_second']:,.0f})  paced p99 {ratio['paced_p99_ms']:6.2f}x "
            f"({r['paced_p99_ms']:.1f} ms)  join {ratio['join_seconds']:5.2f}x "
            f"({r['join_seconds']:.2f} s)  CPU per frame "
            f"{ratio['server_cpu_ms_per_1k_frames']:.1f}x"
        )
    served_mb, bare_mb = _megabytes(report["serve inprocess"]), _megabytes(bare)
    out.append(
        f"  peak RSS, {IDLE} idle connections: serve {served_mb[1]:.0f} MB vs bare "
        f"{bare_mb[1]:.0f} MB ({served_mb[1] / bare_mb[1]:.2f}x; before connecting "
        f"{served_mb[0]:.0f} vs {bare_mb[0]:.0f} MB)"
    )
    return out


def _megabytes(result: dict[str, Any]) -> tuple[float, float]:
    return result["rss_before_kb"] / 1024, result["peak_rss_kb"] / 1024


if __name__ == "__main__":
    print("\n".join(lines(gateway_report())))
