"""`make bench`: run every benchmark and print ratios against same-run baselines."""

from __future__ import annotations

import sys

from benchmarks import (
    bench_cold_start,
    bench_core,
    bench_fanout,
    bench_gateway,
    bench_history,
    bench_logging,
    bench_sharding,
)

ALONE = {"sharding": bench_sharding.report, "fanout": bench_fanout.report}


def main(argv: list[str] | None = None) -> int:
    """Every benchmark; or, given names (`python -m benchmarks.run sharding`), those alone."""
    chosen = sys.argv[1:] if argv is None else argv
    if chosen:
        unknown = [name for name in chosen if name not in ALONE]
        if unknown:
            print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(ALONE)}")
            return 2
        for name in chosen:
            ALONE[name]()
        return 0
    print("roomcast benchmarks (ratio = subject / baseline, best of 5, same run)\n")
    ratios = (
        bench_core.parse_overhead(),
        bench_core.send_overhead(),
        *bench_cold_start.cold_start(),
        *bench_logging.logging_cold_start(),
        bench_logging.instrumentation_overhead(),
    )
    for ratio in ratios:
        print(ratio.line())
    print("\n".join(bench_history.report()))
    per_connection, per_plain = bench_core.memory_per_connection()
    print(
        f"{'memory per connection (memory store)':<44} {per_connection / per_plain:8.2f}x  "
        f"({per_connection:9.0f} B vs {per_plain:9.0f} B in a plain dict)"
    )
    bench_fanout.report()
    bench_sharding.report()
    print("\n".join(bench_gateway.lines(bench_gateway.gateway_report())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
