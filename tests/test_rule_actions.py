"""The action executor shared by rules and segments (``lendbase.rules.apply_actions``): every
action set based over a SELECT of ids, idempotent per cause, with a dry run that predicts the
real run exactly and writes nothing; field changes with audit rows and version bumps; signed
webhook calls retried after a 500 and never sent twice for one cause.

``World`` (a loan form and a payment form, published; users; a tag catalogue; a notification
template; a rules runtime bound to the engine) is shared with the engine and simulation tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db
from lendbase.errors import MetadataError
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.publish import load_compiled_schema, publish_form
from lendbase.forms.registry import FormRegistry
from lendbase.jobs import JobRuntime, RetryPolicy
from lendbase.meta.store import MetadataStore
from lendbase.records.audit import record_history
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.rules import RulesRuntime, apply_actions, bind_runtime, publish_rule
from lendbase.rules.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from lendbase.security import FieldCipher, generate_key_string
from lendbase.work import NotificationService, TagCatalog
from tests.sample_forms import label
from tests.work_fixtures import make_org

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def option(value: str) -> dict[str, Any]:
    return {"value": value, "label": label(value, value)}


def loan_form() -> dict[str, Any]:
    return {
        "key": "loan", "label": label("贷款", "Loan"), "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": label("名称", "Name"), "required": True},
            {"key": "amount", "type": "money", "label": label("金额", "Amount")},
            {"key": "due_on", "type": "date", "label": label("到期日", "Due on")},
            {"key": "status", "type": "select", "label": label("状态", "Status"),
             "options": [option("current"), option("overdue"), option("settled")]},
            {"key": "stage", "type": "select", "label": label("阶段", "Stage"),
             "options": [option("lead"), option("approved"), option("repaying")]},
            {"key": "rating", "type": "select", "label": label("评级", "Rating"),
             "options": [option("A"), option("B"), option("C")]},
            {"key": "score", "type": "integer", "label": label("分数", "Score")},
            {"key": "watched", "type": "boolean", "label": label("关注", "Watched")},
            {"key": "manager", "type": "user", "label": label("客户经理", "Manager")},
            {"key": "mobile", "type": "phone", "label": label("手机", "Mobile")},
            {"key": "id_number", "type": "id_number", "label": label("身份证", "ID"),
             "sensitive": True},
            {"key": "note", "type": "text", "label": label("备注", "Note")},
        ],
    }


def payment_form() -> dict[str, Any]:
    return {
        "key": "payment", "label": label("还款", "Payment"),
        "fields": [
            {"key": "loan", "type": "reference", "label": label("贷款", "Loan"),
             "target": "loan"},
            {"key": "amount", "type": "money", "label": label("金额", "Amount")},
            {"key": "paid_on", "type": "date", "label": label("日期", "Paid on")},
        ],
    }


@dataclass
class World:
    engine: Engine
    sessions: sessionmaker
    clock: Clock
    cipher: FieldCipher
    runtime: RulesRuntime
    admin: Actor
    users: dict[str, int]

    def schema(self, session: Session) -> CompiledSchema:
        return self.runtime.forms.schema(session)

    def records(self, session: Session) -> RecordService:
        return RecordService(session, self.schema(session), self.admin, self.cipher, self.clock)

    def add_loans(self, count: int, *, start: int = 1, **values: Any) -> list[int]:
        """``count`` loans inserted directly (one executemany), as a data load would."""
        with self.sessions.begin() as session:
            table = self.schema(session)["loan"].table
            rows = [{"name": f"贷款{start + i}", "amount": 1000 * (start + i),
                     "status": "current", "manager": self.users["am1"],
                     "mobile": f"138{start + i:08d}", "owner_id": self.users["am1"],
                     "created_by": None, "updated_by": None, "created_at": self.clock(),
                     "updated_at": self.clock(), "version": 1, **values}
                    for i in range(count)]
            session.execute(insert(table), rows)
            return list(session.execute(
                select(table.c.id).where(table.c.name.in_([r["name"] for r in rows]))
                .order_by(table.c.id)).scalars())

    def publish_rule(self, doc: dict[str, Any]) -> None:
        with self.sessions.begin() as session:
            store = MetadataStore(session, None)
            try:
                draft = store.get_draft("rules", doc["key"])
            except Exception:  # noqa: BLE001 - not there yet
                store.create("rules", doc)
            else:
                store.save_draft("rules", doc["key"], doc, draft.lock_version)
            publish_rule(session, None, doc["key"])


def make_world(engine: Engine, clock: Clock | None = None) -> World:
    clock = clock or Clock()
    sessions = sessionmaker(engine, expire_on_commit=False)
    cipher = FieldCipher.from_key_string(generate_key_string())
    runtime = RulesRuntime(FormRegistry(), cipher=cipher, clock=clock)
    bind_runtime(engine, runtime)
    with sessions.begin() as session:
        org = make_org(session)
        store = MetadataStore(session, None)
        for doc in (loan_form(), payment_form()):
            store.create("forms", doc)
            publish_form(session, None, doc["key"])
        catalog = TagCatalog(session, org.actors["admin"])
        catalog.save_group("risk", label("风险", "Risk"), manual=False)
        for key in ("overdue_flag", "vip"):
            catalog.save_tag(key, "risk", label(key, key), color="#c0392b")
        NotificationService(session, org.actors["admin"]).save_template(
            "due_reminder", label=label("到期提醒", "Due reminder"), channel="sms",
            form_key="loan", body="【信贷】{{ name }}，您的贷款将于{{ due_on }}到期。")
    return World(engine, sessions, clock, cipher, runtime, org.actors["admin"], org.ids)


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows of every platform table and form table (to prove that nothing was written)."""
    with sessionmaker(engine)() as session:
        names = [t for t in db.platform_metadata.sorted_tables]
        schema = load_compiled_schema(session)
        names += list(schema.metadata.sorted_tables)
        return {t.name: int(session.execute(select(func.count()).select_from(t)).scalar_one())
                for t in names}


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine)


def loans(session: Session, world: World) -> Any:
    return world.schema(session)["loan"].table


def run(world: World, actions: list[dict[str, Any]], where: Any = None, *,
        cause: str = "rule:test", dry_run: bool = False) -> Any:
    with world.sessions.begin() as session:
        t = loans(session, world)
        ids = select(t.c.id)
        if where is not None:
            ids = ids.where(where(t))
        return apply_actions(session, actions, form_key="loan", ids=ids, cause=cause,
                             source="rule:test", clock=world.clock,
                             schema=world.schema(session), dry_run=dry_run,
                             env=world.runtime.env())


# --- tests ------------------------------------------------------------------------------------


def test_a_dry_run_predicts_the_real_run_and_the_second_run_changes_nothing(
        world: World) -> None:
    ids = world.add_loans(30)
    with world.sessions.begin() as session:  # five of them already carry the tag
        from lendbase.work import TagService

        TagService(session, Actor.system(), world.clock).bulk_add(
            "loan", "overdue_flag", select(loans(session, world).c.id)
            .where(loans(session, world).c.id.in_(ids[10:15])), rule="seed")
    actions = [
        {"type": "add_tag", "tag": "overdue_flag"},
        {"type": "create_task", "title": "催收电话", "kind": "phone_collection",
         "priority": "high", "due_in_days": 2, "assignee": {"rule": "field", "field": "manager"},
         "payload": {"script": "collection_v2"}},
        {"type": "raise_alert", "title": "逾期", "severity": "high"},
        {"type": "remove_tag", "tag": "vip"},
    ]
    overdue = [lambda t: t.c.amount >= 11000][0]  # loans 11..30: 20 of them
    before = table_counts(world.engine)
    predicted = run(world, actions, overdue, dry_run=True)
    assert table_counts(world.engine) == before  # a dry run writes nothing
    assert predicted.affected == [15, 20, 20, 0]  # loans 11-30 match; 11-15 had the tag
    assert [s.id for s in predicted.actions[0].sample][:3] == ids[15:18]
    assert predicted.actions[1].sample[0].title == "贷款11"
    done = run(world, actions, overdue)
    assert done.affected == predicted.affected
    assert [s.id for s in done.actions[1].sample] == [s.id for s in predicted.actions[1].sample]
    again = run(world, actions, overdue)
    assert again.affected == [0, 0, 0, 0]
    with world.sessions() as session:
        tasks = session.execute(select(db.task).order_by(db.task.c.id)).all()
        assert len(tasks) == 20
        assert tasks[0].cause_key == f"rule:test:{ids[10]}:1"
        assert tasks[0].assignee_id == world.users["am1"]
        assert tasks[0].payload == {"script": "collection_v2"}
        assert tasks[0].created_by_rule == "rule:test"
        assert tasks[0].due_at.replace(tzinfo=UTC) == T0 + timedelta(days=2)
        alerts = session.execute(select(func.count()).select_from(db.alert)).scalar_one()
        assert alerts == 20
    # a new period is a new cause: the tasks come again, the tags do not
    period = run(world, actions, overdue, cause="rule:test:2026-12")
    assert period.affected == [0, 20, 20, 0]


def test_set_field_updates_set_based_with_audit_rows_and_version_bumps(world: World) -> None:
    ids = world.add_loans(6)
    with world.sessions.begin() as session:  # one already has the values
        t = loans(session, world)
        session.execute(t.update().where(t.c.id == ids[0]).values(
            rating="C", status="overdue", watched=True, note="逾期"))
    actions = [
        {"type": "set_field", "field": "rating", "value": "C"},
        {"type": "set_field", "field": "status", "value": "overdue"},
        {"type": "set_field", "field": "amount", "formula": "amount * 1.05 + 0.004"},
        {"type": "set_field", "field": "watched", "value": True},
        {"type": "set_field", "field": "due_on", "formula": "DATE_ADD(TODAY(), 30, \"D\")"},
        {"type": "set_field", "field": "note", "value": None},
    ]
    predicted = run(world, actions, dry_run=True)
    assert predicted.affected == [5, 5, 6, 5, 6, 1]
    done = run(world, actions)
    assert done.affected == predicted.affected
    with world.sessions() as session:
        t = loans(session, world)
        row = session.execute(select(t).where(t.c.id == ids[1])).mappings().one()
        assert (row["rating"], row["status"], str(row["amount"]), bool(row["watched"])) == (
            "C", "overdue", "2100.00", True)
        assert str(row["due_on"])[:10] == "2026-12-28"
        assert row["version"] == 2 and row["updated_by"] is None
        history = record_history(session, "loan", ids[1])
        assert history[0]["version"] == 2 and history[0]["actor"] == "system"
        assert history[0]["changes"] == {
            "rating": [None, "C"], "status": ["current", "overdue"],
            "amount": ["2000.00", "2100.00"], "watched": [None, True],
            "due_on": [None, "2026-12-28"]}
        first = record_history(session, "loan", ids[0])[0]["changes"]
        assert set(first) == {"amount", "due_on", "note"}  # only what changed in that row
        assert first["note"] == ["逾期", None]
        assert session.execute(select(func.count()).select_from(db.audit)).scalar_one() == 6
    again = run(world, actions)
    assert again.affected == [0, 0, 6, 0, 0, 0]  # the formula moves the amount again


def test_actions_that_do_not_fit_the_form_are_refused_by_pointer(world: World) -> None:
    world.add_loans(1)
    with pytest.raises(MetadataError) as refused:
        run(world, [
            {"type": "set_field", "field": "id_number", "value": "11010519491231002X"},
            {"type": "set_field", "field": "nope", "value": 1},
            {"type": "add_tag", "tag": "no_such_tag"},
            {"type": "create_task", "title": "x", "assignee": {"rule": "field",
                                                               "field": "amount"}},
            {"type": "notify", "template": "due_reminder", "recipient_field": "amount"},
            {"type": "set_field", "field": "status", "value": "lost"},
            {"type": "set_field", "field": "amount", "formula": "name + 1"},
            {"type": "start_flow", "flow": "approval"},
        ])
    # the document checks answer first: a rule cannot start a flow yet
    assert set(refused.value.errors) == {"/actions/7/type"}
    assert refused.value.errors["/actions/7/type"][0].startswith(
        "flows arrive with their own issue")
    with pytest.raises(MetadataError) as refused:
        run(world, [
            {"type": "set_field", "field": "id_number", "value": "11010519491231002X"},
            {"type": "add_tag", "tag": "no_such_tag"},
            {"type": "create_task", "title": "x", "assignee": {"rule": "field",
                                                               "field": "amount"}},
            {"type": "notify", "template": "due_reminder", "recipient_field": "amount"},
            {"type": "set_field", "field": "status", "value": "lost"},
            {"type": "set_field", "field": "amount", "formula": "name + 1"},
            {"type": "set_field", "field": "nope", "value": 1},
        ])
    errors = refused.value.errors  # then everything that does not fit the form, at once
    assert set(errors) == {"/actions/0/field", "/actions/1/tag", "/actions/2/assignee",
                           "/actions/3/recipient_field", "/actions/4/value",
                           "/actions/5/formula", "/actions/6/field"}
    assert "sensitive" in errors["/actions/0/field"][0]
    assert "no tag 'no_such_tag'" in errors["/actions/1/tag"][0]
    assert "'amount' is not a user field" in errors["/actions/2/assignee"][0]
    assert "has no field 'nope'" in errors["/actions/6/field"][0]


def test_notify_renders_per_record_in_chunks_and_never_sends_twice(world: World) -> None:
    world.add_loans(3, due_on=datetime(2026, 12, 1).date())
    world.add_loans(1, start=10, mobile=None)  # no recipient: skipped
    actions = [{"type": "notify", "template": "due_reminder", "recipient_field": "mobile"}]
    assert run(world, actions, dry_run=True).affected == [3]
    done = run(world, actions)
    assert done.affected == [3] and done.actions[0].detail == {"sent": 3}
    with world.sessions() as session:
        bodies = session.execute(select(db.notification.c.recipient, db.notification.c.body)
                                 .order_by(db.notification.c.id)).all()
    assert bodies[0] == ("13800000001", "【信贷】贷款1，您的贷款将于2026-12-01到期。")
    assert run(world, actions).affected == [0]


def test_notify_reads_the_recipient_through_a_reference_and_keeps_quiet_hours(
        world: World) -> None:
    """A payment's SMS goes to its loan's mobile (``loan.mobile``); the quiet hours are read
    in the zone the loan names (``loan.note`` here), else the business zone."""
    shanghai, london, no_mobile = world.add_loans(3)  # 09:00 in Shanghai is 01:00 in London
    with world.sessions.begin() as session:
        t = loans(session, world)
        session.execute(t.update().where(t.c.id == london).values(note="Europe/London"))
        session.execute(t.update().where(t.c.id == no_mobile).values(mobile=None))
        payments = world.schema(session)["payment"].table
        session.execute(insert(payments), [
            {"loan": loan, "amount": 10, "created_at": T0, "updated_at": T0, "version": 1}
            for loan in (shanghai, london, no_mobile, None)])
        NotificationService(session, world.admin).save_template(
            "paid", label=label("到账", "Paid"), channel="sms", form_key="payment",
            body="已收到还款 {{ amount }} 元")
    actions = [{"type": "notify", "template": "paid", "recipient_field": "loan.mobile",
                "quiet_hours": {"from": "22:00", "to": "08:00", "timezone_field": "loan.note"}}]

    def notify(dry_run: bool = False) -> Any:
        with world.sessions.begin() as session:
            table = world.schema(session)["payment"].table
            return apply_actions(session, actions, form_key="payment",
                                 ids=select(table.c.id), cause="rule:paid",
                                 source="rule:paid", clock=world.clock,
                                 schema=world.schema(session), dry_run=dry_run,
                                 env=world.runtime.env())

    assert notify(dry_run=True).affected == [2]  # the two payments whose loan has a mobile
    done = notify()
    assert done.actions[0].detail == {"sent": 1, "refused": 1}
    with world.sessions() as session:
        n = db.notification
        rows = session.execute(select(n.c.recipient, n.c.status, n.c.reason)
                               .order_by(n.c.id)).all()
    assert [(r.recipient, r.status) for r in rows] == [
        ("13800000001", "sent"), ("13800000002", "refused")]
    assert "Europe/London" in rows[1].reason and "01:00" in rows[1].reason
    world.clock.advance(hours=8)  # 09:00 in London: the refused one goes, the sent one not again
    assert notify().actions[0].detail == {"sent": 1}
    with pytest.raises(MetadataError) as refused:
        actions[0] = {"type": "notify", "template": "paid", "recipient_field": "loan.amount",
                      "quiet_hours": {"from": "22:00", "to": "08:00",
                                      "timezone_field": "amount.x"}}
        notify()
    assert "'loan.amount' is not a phone, e-mail, text or user field" in \
        refused.value.errors["/actions/0/recipient_field"][0]
    assert "'amount' is not a reference field of 'payment'" in \
        refused.value.errors["/actions/0/quiet_hours/timezone_field"][0]


# --- webhooks -----------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []
    answers: list[int] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append({"headers": dict(self.headers), "body": body})
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status < 300 else b"boom")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.calls, _Receiver.answers = [], [500]
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/lendbase"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_a_webhook_is_signed_retried_after_a_500_and_not_sent_twice(
        world: World, receiver: str) -> None:
    ids = world.add_loans(1)
    secret = "s3cret-key-for-hmac-0001"
    actions = [{"type": "webhook", "url": receiver, "secret": secret, "timeout_s": 5,
                "payload": {"kind": "overdue"}}]
    assert run(world, actions, dry_run=True).affected == [1]
    assert run(world, actions).affected == [1]
    jobs = JobRuntime(world.sessions, clock=world.clock, retry=RetryPolicy((30,)))
    jobs.run_until_idle()
    assert len(_Receiver.calls) == 1  # answered 500: the job waits for its retry
    world.clock.advance(seconds=31)
    jobs.run_until_idle()
    assert len(_Receiver.calls) == 2
    call = _Receiver.calls[1]
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert verify(secret, headers[TIMESTAMP_HEADER.lower()], call["body"],
                  headers[SIGNATURE_HEADER.lower()])
    assert not verify("another-secret-0000000", headers[TIMESTAMP_HEADER.lower()],
                      call["body"], headers[SIGNATURE_HEADER.lower()])
    document = json.loads(call["body"])
    assert document["record_id"] == ids[0] and document["form"] == "loan"
    assert document["data"] == {"kind": "overdue"} and document["source"] == "rule:test"
    assert headers[DELIVERY_HEADER.lower()] == f"rule:test:{ids[0]}:0" == document["cause"]
    # the same cause again: no new call, nothing sent
    assert run(world, actions).affected == [0]
    jobs.run_until_idle()
    assert len(_Receiver.calls) == 2
    with world.sessions() as session:
        row = session.execute(select(db.webhook_call)).one()
        assert (row.status, row.attempts, row.last_status) == ("sent", 2, 200)
        runs = session.execute(select(db.job_run.c.status, db.job_run.c.attempts)).all()
        assert [(r.status, r.attempts) for r in runs] == [("succeeded", 2)]
