"""What `batch_failure` costs a batch of the largest size Lambda sends (10,000 Kinesis records).

`python benchmarks/batch_failure.py`: the library's time for one invocation (the fault
around a handler that returns at once), median of repeated runs, for 100 to 10,000
records, and the time per record, which stays flat when the work is linear. The fault used to
check each id against a list of those seen, quadratic in the batch: 10,000 records took
1.4 s of library time on this machine class, about 10 s on a 128 MB function (whose CPU
share is a fraction of a core), long enough for a timeout that redelivers the whole batch.
"""

from __future__ import annotations

import statistics
import time
from random import Random
from typing import Any

from chaos_layer.faults import Invocation
from chaos_layer.faults.batch_failure import BatchFailureFault


def kinesis_batch(size: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "kinesis": {"sequenceNumber": f"49590331741505200049{i:036d}", "data": "SGVsbG8="},
            }
            for i in range(size)
        ]
    }


def seconds_per_invocation(size: int, runs: int = 9) -> float:
    event = kinesis_batch(size)
    fault = BatchFailureFault(fraction=0.25)
    times = []
    for seed in range(runs):
        invocation = Invocation(event, None, time.sleep, Random(seed))
        start = time.perf_counter()
        fault.apply(invocation, lambda: None)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print("| records | library time per invocation | per record |")
    print("|---|---|---|")
    for size in (100, 1_000, 10_000):
        seconds = seconds_per_invocation(size)
        print(f"| {size:,} | {seconds * 1000:.2f} ms | {seconds / size * 1e9:.0f} ns |")


if __name__ == "__main__":
    main()
