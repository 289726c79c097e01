"""Benchmark of set-based risk work on PostgreSQL: the upsell pool and the daily DPD job.

Prints, side by side in one run, on a generated book of ``--customers`` customers with one
loan each and ``--installments-per-customer`` installments per loan:

  B. the brief's "upsell pool" (rating A, no overdue installment due in the last 12 months,
     balance under half the credit line) as the JSON condition tree compiled by
     ``lendbase.conditions.compile_sql``, against the same query written by hand in SQL, and
     against the most generous per-row baseline: one query fetching flat customer rows with the
     related overdue count pre-aggregated by GROUP BY, then a JsonLogic library
     (panzi-json-logic) evaluating an equivalent rule per record in Python. Medians of several
     runs after a warm-up; the three answers are asserted equal.
  C. the daily delinquency job (``apps.credit_template.delinquency.update_delinquency``: audit
     rows and bucket events included) against a hand-written SQL UPDATE of the same installment
     and loan fields, on the same data: each run in a transaction rolled back afterwards, the
     tables vacuumed between runs, and the two results asserted equal before the rollback.

The data is generated set-based in SQL (generate_series) straight into the template's tables
in a schema of its own, dropped at the end. Needs the bench extra (pip install -e .[bench]).

Usage: .venv/bin/python bench/risk_bench.py [--pg URL] [--customers 1000000]
           [--installments-per-customer 12] [--runs 5]
Benchmarks are not tests; record the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from json_logic import jsonLogic
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.credit_template.delinquency import update_delinquency  # noqa: E402
from lendbase import db  # noqa: E402
from lendbase.auth.users import create_user  # noqa: E402
from lendbase.conditions import ConditionContext, ConditionSchema, compile_sql  # noqa: E402
from lendbase.forms.compile import CompiledSchema  # noqa: E402
from lendbase.forms.publish import load_compiled_schema  # noqa: E402
from lendbase.meta.apps import install_app  # noqa: E402
from lendbase.migrate import upgrade_database  # noqa: E402

BUSINESS_DATE = date(2026, 3, 15)
#: The job's clock: 00:10 on the business date in Beijing.
NOW = datetime(2026, 3, 14, 16, 10, tzinfo=UTC)

UPSELL = {"and": [
    {"field": "rating", "op": "=", "value": "a"},
    {"not": {"exists": {"form": "installment", "link": "customer",
             "where": {"and": [{"field": "status", "op": "=", "value": "overdue"},
                               {"field": "due_date", "op": "in_last", "value": [12, "month"]}]}}}},
    {"field": "balance", "op": "<", "value": {"formula": "0.5 * credit_limit"}},
]}
UPSELL_JSONLOGIC = {"and": [
    {"==": [{"var": "rating"}, "a"]},
    {"==": [{"var": "overdue_12m"}, 0]},
    {"<": [{"var": "balance"}, {"*": [0.5, {"var": "credit_limit"}]}]},
]}

HAND_UPSELL = """
    SELECT {what} FROM f_customer c
    WHERE c.rating = 'a' AND c.balance < 0.5 * c.credit_limit
      AND NOT EXISTS (SELECT 1 FROM f_installment i
                      WHERE i.customer = c.id AND i.status = 'overdue'
                        AND i.due_date >= :since AND i.due_date <= :today)"""
FLAT_ROWS = """
    SELECT c.id, c.rating, c.balance::float8, c.credit_limit::float8, coalesce(o.n, 0)
    FROM f_customer c
    LEFT JOIN (SELECT customer, count(*) AS n FROM f_installment
               WHERE status = 'overdue' AND due_date >= %(since)s AND due_date <= %(today)s
               GROUP BY customer) o ON o.customer = c.id"""

# The same rules as the job, written by hand for this template and its default buckets.
_UNPAID = """round(i.principal_due + i.interest_due + coalesce(i.fee_due, 0)
    + coalesce(i.penalty_due, 0) - coalesce(i.principal_paid, 0) - coalesce(i.interest_paid, 0)
    - coalesce(i.fee_paid, 0) - coalesce(i.penalty_paid, 0), 2)"""
_OVERDUE = f"(:bd - i.due_date > p.grace_days AND {_UNPAID} > p.tolerance_amount)"
HAND_INSTALLMENTS = f"""
    UPDATE f_installment i SET
      status = CASE WHEN {_UNPAID} <= 0 THEN 'paid' WHEN {_OVERDUE} THEN 'overdue'
                    WHEN i.principal_paid + i.interest_paid + i.fee_paid + i.penalty_paid > 0
                    THEN 'partially_paid' ELSE 'pending' END,
      overdue_days = CASE WHEN {_UNPAID} <= 0
                          THEN coalesce(greatest(0, i.paid_in_full_on - i.due_date),
                                        i.overdue_days)
                          WHEN {_OVERDUE} THEN :bd - i.due_date ELSE 0 END,
      version = i.version + 1, updated_at = :now, updated_by = NULL
    FROM f_loan l, f_loan_product p
    WHERE i.loan = l.id AND l.product = p.id AND l.status IN ('active', 'overdue')
      AND (i.status, i.overdue_days) IS DISTINCT FROM (
        CASE WHEN {_UNPAID} <= 0 THEN 'paid' WHEN {_OVERDUE} THEN 'overdue'
             WHEN i.principal_paid + i.interest_paid + i.fee_paid + i.penalty_paid > 0
             THEN 'partially_paid' ELSE 'pending' END,
        CASE WHEN {_UNPAID} <= 0
             THEN coalesce(greatest(0, i.paid_in_full_on - i.due_date), i.overdue_days)
             WHEN {_OVERDUE} THEN :bd - i.due_date ELSE 0 END)"""
_BUCKET = ("CASE WHEN c.dpd = 0 THEN 'm0' WHEN c.dpd <= 30 THEN 'm1' WHEN c.dpd <= 60 THEN 'm2' "
           "WHEN c.dpd <= 90 THEN 'm3' ELSE 'm3_plus' END")
_STATUS = "CASE WHEN c.dpd = 0 THEN 'active' ELSE 'overdue' END"
HAND_LOANS = f"""
    UPDATE f_loan l SET dpd = c.dpd, bucket = {_BUCKET}, status = {_STATUS},
      overdue_amount = c.amount, version = l.version + 1, updated_at = :now, updated_by = NULL
    FROM (SELECT l2.id, coalesce(o.amount, 0) AS amount,
                 CASE WHEN o.oldest IS NULL THEN 0 ELSE greatest(0, :bd - o.oldest
                   - CASE WHEN l2.dpd_paused_from IS NULL THEN 0 ELSE greatest(0,
                       least(coalesce(l2.dpd_paused_until, :bd), :bd)
                       - greatest(o.oldest, l2.dpd_paused_from - 1)) END) END AS dpd
          FROM f_loan l2
          LEFT JOIN (SELECT i.loan, min(i.due_date) AS oldest, sum({_UNPAID}) AS amount
                     FROM f_installment i WHERE i.status = 'overdue' GROUP BY i.loan) o
            ON o.loan = l2.id
          WHERE l2.status IN ('active', 'overdue')) c
    WHERE l.id = c.id AND (l.dpd, l.bucket, l.status, l.overdue_amount)
          IS DISTINCT FROM (c.dpd, {_BUCKET}, {_STATUS}, c.amount)"""


# --- data ----------------------------------------------------------------------------------


def generate(engine: Engine, schema: CompiledSchema, customers: int, per_customer: int,
             manager: int) -> float:
    """The book as of yesterday, set-based: products, a plan row per customer (its loan's
    terms and its borrower's behaviour), installments, loans, customers; then yesterday's
    DPD run and ANALYZE. Returns the seconds it took."""
    start = time.perf_counter()
    bd = BUSINESS_DATE
    # the indexes the forms' metadata asks for, built once the rows are in
    indexes = [index for form in ("installment", "loan", "customer")
               for index in schema[form].table.indexes]
    with engine.begin() as conn:
        run = lambda sql, **p: conn.execute(text(sql), p)  # noqa: E731
        run("SET LOCAL session_replication_role = replica")  # no FK triggers while loading
        run("SET LOCAL maintenance_work_mem = '512MB'")
        run("SET LOCAL synchronous_commit = off")
        for index in indexes:
            index.drop(conn)
        run("""CREATE FUNCTION bench_r(g bigint, salt int) RETURNS float8 LANGUAGE sql
               IMMUTABLE PARALLEL SAFE
               AS $$ SELECT (hashint8(g * 1000 + salt) & 2147483647)::float8 / 2147483648 $$""")
        run("""INSERT INTO f_loan_product (id, created_at, updated_at, version, code, name,
                   amortization, annual_rate, grace_days, tolerance_amount, is_active)
               VALUES (1, now(), now(), 1, 'BX-1', '经营贷', 'equal_principal', 12, 3, 10, true),
                      (2, now(), now(), 1, 'BX-2', '消费贷', 'equal_principal', 12, 1, 5, true),
                      (3, now(), now(), 1, 'BX-3', '供应链', 'equal_principal', 12, 5, 0, true)""")
        # a loan per customer, disbursed 1 to 18 months ago; 86 % pay on time, 8 % pay one
        # installment 10-45 days late, 6 % stopped paying 1-240 days ago
        run("""CREATE UNLOGGED TABLE bench_plan AS
               SELECT g AS id, 1 + g % 3 AS product,
                      ((10 + floor(bench_r(g, 2) * 91)) * 10000)::numeric(18, 2)
                          AS credit_limit,
                      (round((10 + floor(bench_r(g, 2) * 91)) * 10000
                             * (0.4 + 0.6 * bench_r(g, 4)) / 1200) * 1200)::numeric(18, 2)
                          AS principal,
                      (:bd - (30 + floor(bench_r(g, 3) * 510))::int) AS disbursed,
                      bench_r(g, 5) AS behaviour, 1 + (g % :n)::int AS late_period,
                      (1 + floor(bench_r(g, 7) * 240))::int AS stopped_days_ago
               FROM generate_series(1, :customers) AS g""", bd=bd, customers=customers,
            n=per_customer)
        run("ALTER TABLE bench_plan ADD PRIMARY KEY (id)")
        run("""INSERT INTO f_installment (id, created_at, updated_at, version, owner_id, loan,
                   customer, period_no, due_date, principal_due, interest_due, fee_due,
                   penalty_due, principal_paid, interest_paid, fee_paid, penalty_paid,
                   paid_in_full_on, overdue_days, status)
               SELECT (pl.id - 1) * :n + k, now(), now(), 1, :am, pl.id, pl.id, k, d.due,
                      pl.principal / :n, d.interest, 0, 0,
                      CASE WHEN pay.on_ IS NOT NULL THEN pl.principal / :n ELSE 0 END,
                      CASE WHEN pay.on_ IS NOT NULL OR pay.partial THEN d.interest ELSE 0 END,
                      0, 0, pay.on_, coalesce(greatest(0, pay.on_ - d.due), 0),
                      CASE WHEN pay.on_ IS NOT NULL THEN 'paid'
                           WHEN pay.partial THEN 'partially_paid' ELSE 'pending' END
               FROM bench_plan pl CROSS JOIN generate_series(1, :n) AS k
               CROSS JOIN LATERAL (SELECT (pl.disbursed + make_interval(months => k))::date
                                          AS due,
                                          round(pl.principal * (:n + 1 - k) / :n * 0.01, 2)
                                          AS interest) d
               CROSS JOIN LATERAL (SELECT CASE
                   WHEN pl.behaviour >= 0.94 AND d.due >= :bd - pl.stopped_days_ago THEN NULL
                   WHEN pl.behaviour >= 0.86 AND pl.behaviour < 0.94 AND k = pl.late_period
                     THEN d.due + 10 + floor(bench_r(pl.id * 64 + k, 6) * 36)::int
                   ELSE d.due - floor(bench_r(pl.id * 64 + k, 6) * 5)::int END AS planned,
                   pl.behaviour >= 0.94 AND bench_r(pl.id * 64 + k, 8) < 0.25 AS partial) x
               CROSS JOIN LATERAL (SELECT CASE WHEN x.planned <= :bd - 1 THEN x.planned END
                                          AS on_, x.partial) pay""",
            bd=bd, n=per_customer, am=manager)
        run("""INSERT INTO f_loan (id, created_at, updated_at, version, owner_id, loan_no,
                   customer, product, principal, annual_rate, term_months, amortization,
                   repayment_day, disbursed_on, maturity_date, status, outstanding_principal,
                   overdue_amount, dpd, bucket, risk_classification, account_manager)
               SELECT pl.id, now(), now(), 1, :am, 'LN' || lpad(pl.id::text, 9, '0'), pl.id,
                      pl.product, pl.principal, 12, :n, 'equal_principal',
                      least(28, extract(day FROM pl.disbursed)), pl.disbursed,
                      (pl.disbursed + make_interval(months => :n))::date,
                      CASE WHEN s.outstanding = 0 THEN 'settled' ELSE 'active' END,
                      s.outstanding, 0, 0, 'm0', 'normal', :am
               FROM bench_plan pl JOIN (
                   SELECT loan, sum(principal_due - principal_paid) AS outstanding
                   FROM f_installment GROUP BY loan) s ON s.loan = pl.id""",
            n=per_customer, am=manager)
        run("""INSERT INTO f_customer (id, created_at, updated_at, version, owner_id,
                   customer_no, customer_type, name, channel, rating, region, credit_limit,
                   balance, account_manager, lifecycle_stage, blacklisted)
               SELECT pl.id, now(), now(), 1, :am, 'C' || lpad(pl.id::text, 9, '0'),
                      CASE WHEN pl.id % 5 = 0 THEN 'enterprise' ELSE 'individual' END,
                      '客户' || pl.id,
                      (ARRAY['online','branch','referral','partner','telemarketing'])[
                          1 + pl.id % 5],
                      CASE WHEN bench_r(pl.id, 1) < 0.08 THEN 'a'
                           WHEN bench_r(pl.id, 1) < 0.43 THEN 'b'
                           WHEN bench_r(pl.id, 1) < 0.80 THEN 'c' ELSE 'd' END,
                      '110105', pl.credit_limit, l.outstanding_principal, :am,
                      CASE WHEN l.outstanding_principal > 0 THEN 'repaying' ELSE 'settled' END,
                      false
               FROM bench_plan pl JOIN f_loan l ON l.id = pl.id""", am=manager)
        for table in ("f_customer", "f_loan", "f_installment"):
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
        run("DROP TABLE bench_plan")
        for index in indexes:
            index.create(conn)
        # yesterday's run: the book as the job left it last night
        run(HAND_INSTALLMENTS, bd=bd - timedelta(days=1), now=NOW - timedelta(days=1))
        run(HAND_LOANS, bd=bd - timedelta(days=1), now=NOW - timedelta(days=1))
    vacuum(engine, analyze=True)
    return time.perf_counter() - start


def vacuum(engine: Engine, analyze: bool = False) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("f_installment", "f_loan", "f_customer", "lb_audit", "lb_outbox"):
            conn.execute(text(f"VACUUM {'ANALYZE ' if analyze else ''}{table}"))


# --- timing --------------------------------------------------------------------------------


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, result


def bench_upsell(engine: Engine, schema: CompiledSchema, runs: int) -> dict[str, Any]:
    conditions = ConditionSchema.from_compiled(schema)
    ctx = ConditionContext.for_form(conditions, "customer", now=NOW)
    where = compile_sql(UPSELL, ctx)
    customer = schema["customer"].table
    since = BUSINESS_DATE.replace(year=BUSINESS_DATE.year - 1)
    params = {"since": since, "today": BUSINESS_DATE}
    results: dict[str, Any] = {}
    with Session(engine) as session:
        results["lb_count"] = median_ms(lambda: session.execute(
            select(func.count()).select_from(customer).where(where)).scalar_one(), runs)
        results["hand_count"] = median_ms(lambda: session.execute(
            text(HAND_UPSELL.format(what="count(*)")), params).scalar_one(), runs)
        results["lb_ids"] = median_ms(lambda: set(session.execute(
            select(customer.c.id).where(where)).scalars()), runs)
        results["hand_ids"] = median_ms(lambda: set(session.execute(
            text(HAND_UPSELL.format(what="c.id")), params).scalars()), runs)
        results["plans"] = {
            "lendbase": explain_select(session, select(func.count()).select_from(customer)
                                       .where(where)),
            "hand": explain_text(session, HAND_UPSELL.format(what="count(*)"), params)}
    results["per_row"] = median_ms(lambda: per_row_pool(engine, since), max(1, runs // 2))
    pool = results["lb_ids"][1]
    assert results["lb_count"][1] == results["hand_count"][1] == len(pool), results
    assert pool == results["hand_ids"][1] == results["per_row"][1]
    results["total"] = session_count(engine, customer)
    return results


EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "


def explain_select(session: Session, statement: Any) -> str:
    compiled = statement.compile(dialect=session.get_bind().dialect)
    return "\n".join(session.connection().exec_driver_sql(
        EXPLAIN + str(compiled), compiled.params).scalars())


def explain_text(session: Session, sql: str, params: dict[str, Any]) -> str:
    return "\n".join(session.execute(text(EXPLAIN + sql), params).scalars())


def session_count(engine: Engine, table: Any) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def per_row_pool(engine: Engine, since: date) -> set[int]:
    """Flat rows in one query (overdue count pre-aggregated), the rule per row in Python."""
    pool: set[int] = set()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(FLAT_ROWS, {"since": since, "today": BUSINESS_DATE})
        while batch := cursor.fetchmany(10000):
            for cid, rating, balance, limit, overdue in batch:
                record = {"rating": rating, "balance": balance, "credit_limit": limit,
                          "overdue_12m": overdue}
                if jsonLogic(UPSELL_JSONLOGIC, record):
                    pool.add(cid)
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return pool


@contextmanager
def statement_clock(engine: Engine) -> Iterator[list[tuple[str, float]]]:
    """(first words of the statement, seconds) for every statement run meanwhile."""
    timings: list[tuple[str, float]] = []

    def before(conn, _cursor, _statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        words = " ".join(statement.split()[:3])
        timings.append((words, time.perf_counter() - conn.info.pop("bench_t0")))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield timings
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def book_state(session: Session) -> tuple[Any, ...]:
    """What both variants must agree on: installments by status and loans by bucket."""
    inst = session.execute(text(
        "SELECT status, count(*), sum(overdue_days), sum(version) FROM f_installment "
        "GROUP BY status ORDER BY status")).all()
    loans = session.execute(text(
        "SELECT bucket, status, count(*), sum(dpd), sum(overdue_amount), sum(version) "
        "FROM f_loan GROUP BY bucket, status ORDER BY bucket, status")).all()
    return tuple(map(tuple, inst)), tuple(map(tuple, loans))


def bench_dpd(engine: Engine, schema: CompiledSchema, runs: int) -> dict[str, Any]:
    factory = sessionmaker(engine)

    def job() -> tuple[float, Any, Any, list[tuple[str, float]]]:
        with factory() as session, statement_clock(engine) as timings:
            start = time.perf_counter()
            report = update_delinquency(session, business_date=BUSINESS_DATE, schema=schema,
                                        now=NOW)
            seconds = time.perf_counter() - start
            statements = list(timings)
            state = book_state(session)
            session.rollback()
        vacuum(engine)
        return seconds, state, report, statements

    def hand() -> tuple[float, Any, Any, list[tuple[str, float]]]:
        with factory() as session, statement_clock(engine) as timings:
            start = time.perf_counter()
            changed = [session.execute(text(sql), {"bd": BUSINESS_DATE, "now": NOW}).rowcount
                       for sql in (HAND_INSTALLMENTS, HAND_LOANS)]
            seconds = time.perf_counter() - start
            statements = list(timings)
            state = book_state(session)
            session.rollback()
        vacuum(engine)
        return seconds, state, changed, statements

    variants = {"job": job, "hand": hand}
    samples: dict[str, list[Any]] = {name: [] for name in variants}
    for fn in variants.values():
        fn()  # warm-up
    for _ in range(runs):  # interleaved, so that a busy moment hurts both alike
        for name, fn in variants.items():
            samples[name].append(fn())
    results = {name: (statistics.median(s[0] for s in runs_) * 1000, runs_[-1])
               for name, runs_ in samples.items()}
    assert results["job"][1][1] == results["hand"][1][1], "the job and the SQL disagree"
    return results


# --- driver --------------------------------------------------------------------------------


def pg_engine(url: str, reuse: str | None = None, keep: bool = False
              ) -> tuple[Engine, Callable[[], None]]:
    """An engine on a schema of its own (``reuse``: an existing one, left in place), and the
    function that drops it (unless ``keep``)."""
    schema = reuse or f"risk_bench_{uuid.uuid4().hex[:8]}"
    admin = db.make_engine(url)
    if not reuse:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = db.make_engine(url, connect_args={"options": f"-csearch_path={schema},public"})

    def drop() -> None:
        engine.dispose()
        if keep or reuse:
            print(f"(schema {schema} kept)")
        else:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--installments-per-customer", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plans", action="store_true", help="print both EXPLAIN ANALYZE plans")
    parser.add_argument("--keep", action="store_true", help="keep the schema (to --reuse it)")
    parser.add_argument("--reuse", metavar="SCHEMA", help="a schema kept by an earlier run")
    args = parser.parse_args()

    engine, drop = pg_engine(args.pg, args.reuse, args.keep)
    try:
        fill_s = 0.0
        if not args.reuse:
            upgrade_database(engine)
            with sessionmaker(engine).begin() as session:
                install_app(session, ROOT / "apps" / "credit_template", confirm=True)
                manager = create_user(session, "am01", "bench-pass-2026", ["account_manager"])
        with Session(engine) as session:
            schema = load_compiled_schema(session)
        if not args.reuse:
            fill_s = generate(engine, schema, args.customers, args.installments_per_customer,
                              manager)
        with Session(engine) as session:
            size = session.execute(text(
                "SELECT pg_size_pretty(pg_total_relation_size('f_installment'))")).scalar()
            installments = session.execute(text("SELECT count(*) FROM f_installment")).scalar()
        up = bench_upsell(engine, schema, args.runs)
        dpd = bench_dpd(engine, schema, max(1, args.runs // 2))
    finally:
        drop()

    print(f"PostgreSQL, {up['total']:,} customers, {installments:,} installments ({size}), "
          f"generated in {fill_s:.0f} s; business date {BUSINESS_DATE}")
    pool = len(up["lb_ids"][1])
    print(f"\nB. upsell pool: {pool:,} customers ({pool / up['total']:.1%}); median ms of "
          f"{args.runs} runs after a warm-up")
    print(f"   {'':<22}{'LendBase':>10}{'hand SQL':>10}{'ratio':>8}"
          f"{'per-row JsonLogic':>19}{'vs LendBase':>13}")
    lb, hand, per_row = up["lb_count"][0], up["hand_count"][0], up["per_row"][0]
    print(f"   {'SELECT count(*)':<22}{lb:>10.1f}{hand:>10.1f}{lb / hand:>7.2f}x"
          f"{per_row:>19.1f}{per_row / lb:>12.1f}x")
    lb, hand = up["lb_ids"][0], up["hand_ids"][0]
    print(f"   {'SELECT id':<22}{lb:>10.1f}{hand:>10.1f}{lb / hand:>7.2f}x"
          f"{per_row:>19.1f}{per_row / lb:>12.1f}x")
    print(f"   per-row baseline vs hand SQL (count): {per_row / up['hand_count'][0]:.1f}x")

    job_ms, (_, _, report, timings) = dpd["job"]
    hand_ms, (_, _, changed, hand_timings) = dpd["hand"]
    print(f"\nC. daily DPD job on {BUSINESS_DATE} (median ms of {max(1, args.runs // 2)} runs "
          "after a warm-up, interleaved, each rolled back)")
    print(f"   {'LendBase job':<40}{job_ms:>10.0f}   {report.installments_changed:,} "
          f"installments, {report.loans_changed:,} loans, {report.events:,} events, "
          f"{len(timings)} statements")
    print(f"   {'hand-written SQL UPDATE (2 statements)':<40}{hand_ms:>10.0f}   "
          f"{changed[0]:,} installments, {changed[1]:,} loans, no audit, no events")
    print(f"   {'ratio':<40}{job_ms / hand_ms:>9.2f}x")
    for name, spent in (("job", timings), ("hand SQL", hand_timings)):
        print(f"   {name} statements (last run, ms): " + "; ".join(
            f"{words} {seconds * 1000:.0f}" for words, seconds in spent))
    if args.plans:
        print("\nEXPLAIN ANALYZE, LendBase:\n" + up["plans"]["lendbase"])
        print("\nEXPLAIN ANALYZE, hand SQL:\n" + up["plans"]["hand"])


if __name__ == "__main__":
    main()
