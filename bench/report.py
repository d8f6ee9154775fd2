"""Repeated measurements and how they are printed: min/median/max, side-by-side ratios, JSON lines."""
from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class Series:
    """One figure measured several times, e.g. Beacon's msgs/s at 10 sessions."""

    label: str
    unit: str
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def line(self) -> str:
        low, high = min(self.values), max(self.values)
        return f"  {self.label:<44} median {self.median:>10.1f} {self.unit:<8} (min {low:.1f}, max {high:.1f}, n={len(self.values)})"


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def ratio_line(label: str, ours: Series, peer: Series) -> str:
    if not peer.median:
        return f"  ratio {label:<38}    n/a  (the peer's median is 0)"
    return f"  ratio {label:<38} {ours.median / peer.median:>6.2f}x  (Beacon / peer, medians of one run)"


def alternate(runners: Sequence[tuple[str, Callable[[], Outcome]]], runs: int) -> dict[str, list[Outcome]]:
    """Each run calls every runner in turn, so noise from other work on the machine falls on all alike."""
    results: dict[str, list[Outcome]] = {name: [] for name, _ in runners}
    for _ in range(runs):
        for name, run in runners:
            results[name].append(run())
    return results


def print_ratios(series: Sequence[Series], peer: str, backends: Sequence[str], units: Collection[str]) -> None:
    """Beacon / peer for every figure of the peer that Beacon has too (labels differ only by the name)."""
    by_label = {s.label: s for s in series if s.unit in units}
    for label, peer_series in by_label.items():
        if label.startswith(peer + " "):
            for backend in backends:
                ours = by_label.get(label.replace(peer, f"beacon-{backend}", 1))
                if ours:
                    print(ratio_line(f"{backend} {label.removeprefix(peer + ' ')}", ours, peer_series))


def print_workload(name: str, **facts: object) -> None:
    print(f"\n== {name}", flush=True)
    if facts:
        print("workload: " + "; ".join(f"{key}={value}" for key, value in facts.items()), flush=True)


def record(
    results_file: Path | None, benchmark: str, series: Sequence[Series], *, echo: bool = True, **extra: object
) -> None:
    """Print the figures (unless already printed) and append them as one JSON line for run_all.py."""
    if echo:
        for item in series:
            print(item.line(), flush=True)
    if results_file is None:
        return
    entry = {
        "benchmark": benchmark,
        "series": [{"label": s.label, "unit": s.unit, "values": s.values, "median": s.median} for s in series],
        **extra,
    }
    with results_file.open("a") as out:
        out.write(json.dumps(entry) + "\n")
