"""Memory of repeat detection with many distinct requests: bounded by max_entries.

python benchmarks/bench_repeat_memory.py --requests 1000000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from otel_tokens.fingerprints import RepeatDetector


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--max-entries", type=int, default=100_000)
    args = parser.parse_args()
    detector = RepeatDetector(window_s=600, max_entries=args.max_entries)
    tracemalloc.start()
    start = time.perf_counter()
    checkpoints = {args.requests // 10, args.requests // 2, args.requests}
    print(f"{'requests':>10} {'entries':>9} {'traced MiB':>11} {'peak MiB':>9}")
    for i in range(1, args.requests + 1):
        request = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"distinct request {i}"}]}
        detector.check(detector.digest("openai", "chat", request))
        if i in checkpoints:
            current, peak = tracemalloc.get_traced_memory()
            print(f"{i:>10} {len(detector):>9} {current / 2**20:>11.1f} {peak / 2**20:>9.1f}")
    elapsed = time.perf_counter() - start
    print(f"{elapsed / args.requests * 1e6:.1f} us per request (digest + check, under tracemalloc)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
