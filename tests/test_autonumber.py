"""Auto numbers never repeat, even when many transactions insert at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import sessionmaker

from lendbase.records.autonumber import next_number

NOW = datetime(2026, 3, 5, tzinfo=UTC)


def test_format_and_reset_per_prefix(session) -> None:
    fmt = "CUST-{YYYY}{MM}-{SEQ:6}"
    assert next_number(session, "c", "no", fmt, NOW) == "CUST-202603-000001"
    assert next_number(session, "c", "no", fmt, NOW) == "CUST-202603-000002"
    april = NOW.replace(month=4)
    assert next_number(session, "c", "no", fmt, april) == "CUST-202604-000001"


@pytest.mark.postgres
def test_parallel_transactions_get_distinct_numbers(pg_engine) -> None:
    factory = sessionmaker(pg_engine)

    def take(_: int) -> list[str]:
        numbers = []
        for _ in range(10):
            with factory.begin() as s:
                numbers.append(next_number(s, "c", "no", "C-{SEQ:5}", NOW))
        return numbers

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [n for chunk in pool.map(take, range(8)) for n in chunk]
    assert len(results) == 80
    assert sorted(results) == [f"C-{i:05d}" for i in range(1, 81)]
