"""Data aggregation: per-region statistics of sensor readings (a decorated function: JSON in, JSON out).

Pack and run it: polkacompute job pack aggregate.py -r python -i input.json -o job.json && polkacompute job run job.json
On the host `@job` is a no-op marker, so `main(data)` can be called directly in tests.
"""

import statistics

from polkacompute import job


@job
def main(data):
    by_region = {}
    for reading in data["readings"]:
        by_region.setdefault(reading["region"], []).append(reading["value"])
    return {
        region: {
            "n": len(values),
            "mean": round(statistics.fmean(values), 6),
            "median": round(statistics.median(values), 6),
            "stdev": round(statistics.pstdev(values), 6),
            "max": max(values),
        }
        for region, values in sorted(by_region.items())
    }
