"""Job functions for the job-queue tests (RQ imports them by dotted path)."""

from __future__ import annotations

from pathlib import Path


def append_line(path: str, text: str) -> None:
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
