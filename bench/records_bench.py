"""Benchmark of the record service and of keyset pagination on a million-row list.

Prints, side by side in one run:
  A. records created per second through RecordService (validated, encrypted, audited, one
     transaction per record as a request would) against a bare SQLAlchemy insert of the same
     rows (plain values, no checks, one transaction per row), on SQLite and on PostgreSQL;
  B. on PostgreSQL with a million customers: the time to fetch page 1 and page 500 of the
     customer list through the service (keyset cursor), against OFFSET pagination of the same
     page and a count(*) of the table (what a page that shows a total would pay);
  C. on the same million: the reference picker's first page of suggestions for typed text
     (lendbase.api.lookup.lookup_page) against a contains-anywhere LIKE scan.

Usage: .venv/bin/python bench/records_bench.py [--pg URL] [--rows 1000000] [--create 2000]
Benchmarks are not tests; record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lendbase import db  # noqa: E402
from lendbase.api.lookup import lookup_page  # noqa: E402
from lendbase.auth.users import create_user  # noqa: E402
from lendbase.forms.checks import complete_id_number  # noqa: E402
from lendbase.forms.publish import load_compiled_schema  # noqa: E402
from lendbase.meta.apps import install_app  # noqa: E402
from lendbase.migrate import upgrade_database  # noqa: E402
from lendbase.records.permissions import Actor  # noqa: E402
from lendbase.records.service import RecordService  # noqa: E402
from lendbase.security import FieldCipher, generate_key_string  # noqa: E402

PAGE = 50
CHANNELS = ["online", "branch", "referral", "partner", "telemarketing"]


def customers(n: int, manager_id: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        born = date(1960 + rng.randrange(40), 1 + rng.randrange(12), 1 + rng.randrange(28))
        rows.append({
            "customer_type": "individual", "name": f"客户{i:06d}",
            "id_number": complete_id_number("110105", born, i),
            "mobile": f"13{rng.randrange(10**9):09d}", "channel": rng.choice(CHANNELS),
            "rating": rng.choice(["a", "b", "c", "d"]), "region": "110105",
            "monthly_income": f"{rng.randrange(3000, 60000)}.00",
            "credit_limit": f"{rng.randrange(1, 100) * 10000}.00",
            "account_manager": manager_id,
        })
    return rows


def prepared(engine: Engine, cipher: FieldCipher):  # type: ignore[no-untyped-def]
    upgrade_database(engine)
    with sessionmaker(engine).begin() as session:
        install_app(session, ROOT / "apps" / "credit_template", confirm=True)
        manager_id = create_user(session, "am01", "bench-pass-2026", ["account_manager"])
    with sessionmaker(engine)() as session:
        return load_compiled_schema(session), manager_id


def bench_create(engine: Engine, n: int) -> tuple[float, float]:
    cipher = FieldCipher.from_key_string(generate_key_string())
    schema, manager_id = prepared(engine, cipher)
    rows = customers(n, manager_id)
    factory = sessionmaker(engine)
    start = time.perf_counter()
    for row in rows:
        with factory.begin() as session:
            RecordService(session, schema, Actor.system(), cipher).create("customer", row)
    service_rate = n / (time.perf_counter() - start)
    table = schema["customer"].table
    now = datetime.now(UTC)
    start = time.perf_counter()
    for i, row in enumerate(rows):
        with factory.begin() as session:
            session.execute(insert(table).values(
                **{**row, "id_number": row["id_number"][:17] + "0", "mobile": row["mobile"]},
                customer_no=f"BARE-{i:06d}", created_at=now, updated_at=now, version=1))
    bare_rate = n / (time.perf_counter() - start)
    return service_rate, bare_rate


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def fill_million(engine: Engine, rows: int) -> None:
    """Set-based in SQL: one INSERT ... SELECT over generate_series."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO f_customer (created_at, updated_at, version, customer_no, customer_type,
                                    name, channel, rating, region, credit_limit)
            SELECT now() - make_interval(secs => g), now(), 1,
                   'M-' || lpad(g::text, 8, '0'),
                   CASE WHEN g % 5 = 0 THEN 'enterprise' ELSE 'individual' END,
                   '客户' || g,
                   (ARRAY['online','branch','referral','partner','telemarketing'])[1 + g % 5],
                   (ARRAY['a','b','c','d'])[1 + g % 4], '110105', (g % 100) * 10000
            FROM generate_series(1, :n) AS g"""), {"n": rows})
        conn.execute(text("ANALYZE f_customer"))


def bench_pages(engine: Engine, rows: int) -> dict[str, float]:
    cipher = FieldCipher.from_key_string(generate_key_string())
    schema, _ = prepared(engine, cipher)
    start = time.perf_counter()
    fill_million(engine, rows)
    fill_seconds = time.perf_counter() - start
    factory = sessionmaker(engine)
    table = schema["customer"].table
    with factory() as session:
        service = RecordService(session, schema, Actor.system(), cipher)
        page1 = timed(lambda: service.list_page("customer", limit=PAGE))
        cursor = None
        start = time.perf_counter()
        for _ in range(499):
            cursor = service.list_page("customer", limit=PAGE, after=cursor).next_cursor
        walk = (time.perf_counter() - start) * 1000 / 499
        page500 = timed(lambda: service.list_page("customer", limit=PAGE, after=cursor))
        order = [table.c.created_at.desc(), table.c.id.desc()]
        offset500 = timed(lambda: session.execute(
            select(table).order_by(*order).limit(PAGE).offset(499 * PAGE)).all())
        count = timed(lambda: session.execute(select(func.count()).select_from(table)).scalar())
        # the reference picker as the user types a name (customer's title field), against a
        # contains-anywhere scan of the same column
        typed = "客户98765"
        lookup = timed(lambda: lookup_page(service, "customer", typed))
        found = [item["title"] for item in lookup_page(service, "customer", typed)["items"]]
        scan = timed(lambda: session.execute(
            select(table.c.id, table.c.name).where(table.c.name.like(f"%{typed}%"))
            .order_by(table.c.name, table.c.id).limit(20)).all())
        rows_in_table = session.execute(select(func.count()).select_from(table)).scalar()
    return {"fill_s": fill_seconds, "page1": page1, "page500": page500, "walk": walk,
            "offset500": offset500, "count": count, "rows": rows_in_table,
            "lookup": lookup, "lookup_scan": scan, "lookup_found": len(found)}


def pg_engine(url: str) -> tuple[Engine, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = db.make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = db.make_engine(url, connect_args={"options": f"-csearch_path={schema},public"})

    def drop() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--create", type=int, default=2000)
    args = parser.parse_args()

    print(f"A. create {args.create} customers, one transaction each (records per second)")
    print(f"   {'database':<12}{'service':>12}{'bare insert':>14}{'ratio':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{tmp}/bench.db")
        service_rate, bare_rate = bench_create(engine, args.create)
        engine.dispose()
    print(f"   {'SQLite':<12}{service_rate:>12.0f}{bare_rate:>14.0f}"
          f"{bare_rate / service_rate:>8.1f}x")
    engine, drop = pg_engine(args.pg)
    try:
        service_rate, bare_rate = bench_create(engine, args.create)
    finally:
        drop()
    print(f"   {'PostgreSQL':<12}{service_rate:>12.0f}{bare_rate:>14.0f}"
          f"{bare_rate / service_rate:>8.1f}x")

    engine, drop = pg_engine(args.pg)
    try:
        r = bench_pages(engine, args.rows)
    finally:
        drop()
    print(f"\nB. customer list on PostgreSQL, {r['rows']:,} rows (filled in {r['fill_s']:.0f} s), "
          f"{PAGE} per page, sorted by -created_at (median ms)")
    print(f"   {'':<34}{'LendBase keyset':>16}{'OFFSET baseline':>17}")
    print(f"   {'page 1':<34}{r['page1']:>16.2f}{'':>17}")
    print(f"   {'page 500':<34}{r['page500']:>16.2f}{r['offset500']:>17.2f}")
    print(f"   {'each page while walking to 500':<34}{r['walk']:>16.2f}")
    print(f"   {'count(*) of the table':<34}{'(never run)':>16}{r['count']:>17.2f}")
    print(f"\nC. reference picker: type '客户98765' ({r['lookup_found']} matches shown; median ms)")
    print(f"   {'':<34}{'LendBase lookup':>16}{'LIKE %..% scan':>17}")
    print(f"   {'first page of suggestions':<34}{r['lookup']:>16.2f}{r['lookup_scan']:>17.2f}")


if __name__ == "__main__":
    main()
