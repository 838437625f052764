"""Strict OpenMetrics check of a kzero /metrics scrape, run by server/tests/it/observability.rs.

Usage: metrics_check.py < EXPOSITION

Parses standard input with prometheus_client's OpenMetrics parser (the Prometheus project's Python client),
which raises on anything the OpenMetrics 1.0 text format forbids: no `# EOF` or text after it, a blank line,
metadata after samples, a family split in two, a counter sample without `_total`, a histogram without a
`+Inf` bucket, buckets out of order or decreasing, a `_count` different from the `+Inf` bucket, a negative or
NaN counter, a bad label or value.

On success prints one JSON object per metric family, one per line, and exits 0:
{"name": ..., "type": ..., "unit": ..., "help": ..., "samples": [{"name": ..., "labels": {...}, "value": ...}]}
On any error prints it on stderr and exits 1.
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # The parser raises ValueError, and sometimes other errors, on invalid input.
        print(f"invalid OpenMetrics text: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if not families:
        print("invalid scrape: no metric families", file=sys.stderr)
        return 1
    lines = []
    for f in families:
        samples = []
        for s in f.samples:
            if s.timestamp is not None or s.exemplar is not None:
                print(f"unexpected timestamp or exemplar on {s.name}", file=sys.stderr)
                return 1
            samples.append({"name": s.name, "labels": dict(s.labels), "value": s.value})
        family = {"name": f.name, "type": f.type, "unit": f.unit, "help": f.documentation, "samples": samples}
        try:
            # No NaN or infinity may reach the test as a number: a strict JSON parser would reject it.
            lines.append(json.dumps(family, allow_nan=False, sort_keys=True))
        except ValueError as e:
            print(f"family {f.name}: a value is not finite: {e}", file=sys.stderr)
            return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
