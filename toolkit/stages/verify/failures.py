"""The four layers, and every failure found in each, by table: the report's counts stay exact,
its details stop at LIMIT per table and layer so a broken table cannot flood it."""

from __future__ import annotations

from collections import Counter

LAYERS = ("counts", "records", "integrity", "types")
LIMIT = 1_000  # failures named per table and layer in the report (counts stay exact)


class Failures:
    """Every failure, by layer and table; the first LIMIT of each are kept with their details."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], list[dict]] = {}
        self.counts: Counter = Counter()

    def add(self, layer: str, table: str, problem: str, **where) -> None:
        self.counts[layer, table] += 1
        kept = self.kept.setdefault((layer, table), [])
        if len(kept) < LIMIT:
            kept.append({k: v for k, v in where.items() if v is not None} | {"problem": problem})

    def merge(self, other: Failures) -> None:
        for (layer, table), count in other.counts.items():
            self.counts[layer, table] += count
            kept = self.kept.setdefault((layer, table), [])
            kept.extend(other.kept.get((layer, table), [])[: LIMIT - len(kept)])

    def of(self, layer: str, table: str) -> dict:
        count = self.counts[layer, table]
        return {
            "status": "fail" if count else "pass",
            "failure_count": count,
            "failures": self.kept.get((layer, table), []),
        }
