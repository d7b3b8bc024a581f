"""Counts of a contract run, printed at the end (conftest.pytest_terminal_summary) and written to
contract_tests/build/contract-summary.json."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        # (source, operation label, role) -> status -> count; source: fuzz | stateful | tour
        self.cases: dict[tuple[str, str, str], Counter[int]] = defaultdict(Counter)
        self.checks: Counter[str] = Counter()  # check name -> responses it judged
        self.failed_checks: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()  # free-form: ws messages validated, ...

    def case(self, source: str, label: str, role: str, status: int) -> None:
        with self._lock:
            self.cases[(source, label, role)][status] += 1

    def check_results(self, results: list[Any]) -> None:
        with self._lock:
            for result in results:
                self.checks[result.name] += 1
                if result.failure is not None:
                    self.failed_checks[result.name] += 1

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def per_operation(self, source: str | None = None) -> dict[str, Counter[int]]:
        merged: dict[str, Counter[int]] = defaultdict(Counter)
        for (src, label, _), statuses in self.cases.items():
            if source is None or src == source:
                merged[label].update(statuses)
        return merged

    def summary_lines(self) -> list[str]:
        if not self.cases and not self.counters:
            return []
        lines = (
            ["cases sent per operation (all roles; fuzz = examples+coverage+fuzzing phases):"]
            if self.cases
            else []
        )
        sources = sorted({src for src, _, _ in self.cases})
        labels = sorted({label for _, label, _ in self.cases})
        width = max(len(label) for label in labels) if labels else 10
        if self.cases:
            header = f"  {'operation':<{width}}  " + "  ".join(f"{s:>8}" for s in sources)
            lines.append(header + "  statuses")
        for label in labels:
            row = []
            statuses: Counter[int] = Counter()
            for src in sources:
                n = 0
                for (s, lab, _), counter in self.cases.items():
                    if s == src and lab == label:
                        n += sum(counter.values())
                        statuses.update(counter)
                row.append(f"{n:>8}")
            shown = " ".join(f"{code}x{count}" for code, count in sorted(statuses.items()))
            lines.append(f"  {label:<{width}}  " + "  ".join(row) + f"  {shown}")
        total = sum(sum(c.values()) for c in self.cases.values())
        if total:
            lines.append(f"  total requests judged: {total}")
        if self.checks:
            judged = ", ".join(f"{name} {n}" for name, n in sorted(self.checks.items()))
            lines.append(f"check runs: {sum(self.checks.values())} ({judged})")
            if self.failed_checks:
                lines.append(f"check failures: {dict(self.failed_checks)}")
        for name, n in sorted(self.counters.items()):
            lines.append(f"{name}: {n}")
        lines.append(f"elapsed: {time.monotonic() - self.started:.0f} s")
        return lines

    def write_json(self, path: Path) -> None:
        data = {
            "cases": [
                {"source": s, "operation": label, "role": role, "statuses": dict(counter)}
                for (s, label, role), counter in sorted(self.cases.items())
            ],
            "checks": dict(self.checks),
            "failed_checks": dict(self.failed_checks),
            "counters": dict(self.counters),
        }
        path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))


STATS = Stats()
