# Parses a Prometheus text exposition (stdin) with the official Prometheus Python client's parser
# (Debian's python3-prometheus-client) and prints its families as JSON (stdout), so the tests read
# /metrics as Prometheus would. npm's parse-prometheus-text-format merges labelled histograms into
# one series (its issue #13), so it cannot check per-connection histograms.
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(value):
    # JSON has no Infinity or NaN: those travel as strings.
    return value if math.isfinite(value) else str(value)


families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append(
        {
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "samples": [
                {"name": s.name, "labels": dict(s.labels), "value": number(s.value)}
                for s in family.samples
            ],
        }
    )
json.dump(families, sys.stdout)
