"""Alerts and notifications on SQLite and PostgreSQL: raised and sent once per cause key (also
from many threads at once on PostgreSQL), bulk alerts from a subquery, acknowledging and
closing, sandboxed templates over a record's values, gates that refuse a send with a recorded
reason (and a later retry of the same cause), channel failures, and read checks (404)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.errors import NotFound, PermissionDenied, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.work import (
    AlertService,
    AlertSeverity,
    AlertStatus,
    NotificationService,
    NotificationStatus,
    OutgoingNotification,
    Refusal,
    SendResult,
    quiet_hours_gate,
    render_text,
)
from tests.work_fixtures import NOW, add_clients, clock, counting_statements, make_org, make_schema


@pytest.fixture
def world(engine, session):
    schema = make_schema(engine)
    org = make_org(session)
    clients = add_clients(session, schema, 3, owner=org.ids["am1"], manager=org.ids["am1"])
    session.flush()
    return schema, org, clients


def alerts(session, schema, actor: Actor) -> AlertService:
    return AlertService(session, actor, clock, schema=schema)


def reminder_template(session, org) -> None:
    NotificationService(session, org.actors["admin"], clock).save_template(
        "repay_reminder", label={"zh": "还款提醒", "en": "Repayment reminder"}, channel="sms",
        form_key="client",
        body="【信贷】{{ name }}您好，您的余额为{{ balance }}元，请按时还款。")


# --- alerts -------------------------------------------------------------------------------------


def test_alert_is_raised_once_per_cause(session, world) -> None:
    schema, org, (rid, *_) = world
    system = alerts(session, schema, Actor.system())
    key = f"rule:last_day_repay:client:{rid}:2026-11"
    first, made = system.raise_alert("client", rid, title="连续三期最后一天还款",
                                     severity=AlertSeverity.HIGH, cause_key=key,
                                     detail={"periods": 3}, rule="last_day_repay")
    again, made_again = system.raise_alert("client", rid, title="连续三期最后一天还款",
                                           severity="high", cause_key=key)
    assert made and not made_again and again.id == first.id
    assert first.detail == {"periods": 3} and first.status is AlertStatus.OPEN
    with pytest.raises(ValidationFailed) as info:
        system.raise_alert("client", rid, title="", severity="doom", detail=[1])
    assert set(info.value.fields) == {"title", "severity", "detail"}
    viewer = alerts(session, schema, org.actors["viewer"])
    acked = viewer.acknowledge(first.id)
    assert acked.status is AlertStatus.ACKNOWLEDGED and acked.acknowledged_by == org.ids["viewer"]
    assert viewer.acknowledge(first.id).acknowledged_at == acked.acknowledged_at
    closed = alerts(session, schema, org.actors["am1"]).close(first.id)
    assert closed.status is AlertStatus.CLOSED and closed.closed_by == org.ids["am1"]
    assert viewer.for_record("client", rid) == []
    assert [a.id for a in viewer.for_record("client", rid, include_closed=True)] == [first.id]
    # raising the same cause after closing still returns the closed alert
    assert system.raise_alert("client", rid, title="x", cause_key=key)[0].id == first.id


def test_alert_visibility_follows_the_record(session, world) -> None:
    schema, org, (rid, rid2, _) = world
    system = alerts(session, schema, Actor.system())
    a1, _ = system.raise_alert("client", rid, title="负面新闻")
    other = add_clients(session, schema, 1, owner=org.ids["am2"], start=90)[0]
    a2, _ = system.raise_alert("client", other, title="关联企业涉诉")
    am1 = alerts(session, schema, org.actors["am1"])
    assert [a.id for a in am1.list_page().items] == [a1.id]
    assert [a.id for a in alerts(session, schema, org.actors["viewer"]).list_page().items] \
        == [a2.id, a1.id]
    assert alerts(session, schema, org.actors["outsider"]).list_page().items == []
    with pytest.raises(NotFound):
        am1.get(a2.id)
    with pytest.raises(NotFound):
        am1.acknowledge(a2.id)
    with pytest.raises(NotFound):
        alerts(session, schema, org.actors["outsider"]).for_record("client", rid)
    page = alerts(session, schema, org.actors["admin"]).list_page(limit=1)
    assert page.next_cursor == a2.id
    rest = alerts(session, schema, org.actors["admin"]).list_page(after=page.next_cursor)
    assert [a.id for a in rest.items] == [a1.id]


def test_bulk_alerts_are_set_based(engine, session, world) -> None:
    schema, org, _ = world
    table = schema["client"].table
    add_clients(session, schema, 5000, owner=org.ids["am1"], start=100)
    session.flush()
    matches = select(table.c.id).where(table.c.balance >= 450_000)
    expected = session.execute(select(func.count()).select_from(matches.subquery())).scalar_one()
    system = alerts(session, schema, Actor.system())
    with counting_statements(engine) as statements:
        raised = system.bulk_raise("client", matches, "rule:big_balance:client:{id}:2026-11",
                                   title="余额异常", severity="warning", rule="big_balance")
    assert raised == expected and len(statements) == 1
    assert system.bulk_raise("client", matches, "rule:big_balance:client:{id}:2026-11",
                             title="余额异常") == 0
    assert session.execute(select(func.count()).select_from(db.alert)).scalar_one() == expected
    with pytest.raises(PermissionDenied):
        alerts(session, schema, org.actors["am1"]).bulk_raise("client", matches, "x:{id}",
                                                              title="t")


# --- notifications ------------------------------------------------------------------------------


def test_template_renders_in_the_sandbox() -> None:
    assert render_text("{{ name }}: {{ record.balance }}", {"name": "张三", "balance": 12}) \
        == "张三: 12"
    from jinja2 import TemplateError
    with pytest.raises(TemplateError):  # undefined names are errors, not empty gaps
        render_text("{{ nope }}", {})
    with pytest.raises(TemplateError):  # the sandbox refuses attribute escapes
        render_text("{{ name.__class__.__mro__ }}", {"name": "x"})


def test_send_records_the_sms_once_per_cause(session, world) -> None:
    schema, org, (rid, *_) = world
    reminder_template(session, org)
    record = {"id": rid, "name": "客户1", "balance": "100.00"}
    system = NotificationService(session, Actor.system(), clock, schema=schema)
    key = f"rule:dpd1_sms:client:{rid}:2026-11-28"
    sent = system.send("repay_reminder", record, "13800000001", key, rule="dpd1_sms")
    assert sent.status is NotificationStatus.SENT and sent.sent_at == NOW
    assert sent.body == "【信贷】客户1您好，您的余额为100.00元，请按时还款。"
    assert (sent.channel, sent.form_key, sent.record_id, sent.attempts) == ("sms", "client",
                                                                           rid, 1)
    again = system.send("repay_reminder", record, "13800000001", key)
    assert again.id == sent.id and again.attempts == 1
    assert session.execute(select(func.count()).select_from(db.notification)).scalar_one() == 1
    viewer = NotificationService(session, org.actors["viewer"], clock, schema=schema)
    assert [n.id for n in viewer.for_record("client", rid)] == [sent.id]
    with pytest.raises(NotFound):
        NotificationService(session, org.actors["am2"], clock, schema=schema).for_record(
            "client", rid)
    with pytest.raises(ValidationFailed) as info:
        NotificationService(session, org.actors["admin"], clock).save_template(
            "bad", label={}, channel="pigeon", body="{% if %}")
    assert set(info.value.fields) == {"label", "channel", "body"}
    with pytest.raises(PermissionDenied):
        NotificationService(session, org.actors["am1"], clock).save_template(
            "x", label={"en": "x"}, channel="sms", body="hi")


def test_gate_refusal_is_recorded_and_a_later_retry_sends(session, world) -> None:
    schema, org, (rid, *_) = world
    reminder_template(session, org)
    record = {"id": rid, "name": "客户1", "balance": "100.00"}
    night = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    morning = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    now = [night]
    svc = NotificationService(session, Actor.system(), lambda: now[0], schema=schema,
                              gates=[quiet_hours_gate(22, 8)])
    key = f"rule:dpd1_sms:client:{rid}:2026-11-28"
    refused = svc.send("repay_reminder", record, "13800000001", key)
    assert refused.status is NotificationStatus.REFUSED and refused.reason_code == "quiet_hours"
    assert "22:00" in (refused.reason or "") and refused.sent_at is None
    now[0] = morning
    sent = svc.send("repay_reminder", record, "13800000001", key)
    assert sent.id == refused.id and sent.status is NotificationStatus.SENT
    assert sent.attempts == 2 and sent.reason is None
    assert svc.send("repay_reminder", record, "13800000001", key).attempts == 2


def test_custom_gate_channel_failure_and_bad_template(session, world) -> None:
    schema, org, (rid, *_) = world
    reminder_template(session, org)

    def max_per_day(n: OutgoingNotification, now: datetime) -> Refusal | None:
        count = session.execute(select(func.count()).select_from(db.notification).where(
            db.notification.c.recipient == n.recipient, db.notification.c.status == "sent"
        )).scalar_one()
        return Refusal("daily_limit", "at most 1 message a day") if count >= 1 else None

    class Down:
        def send(self, notification: OutgoingNotification) -> SendResult:
            return SendResult(False, error="gateway timeout")

    svc = NotificationService(session, Actor.system(), clock, schema=schema,
                              gates=[max_per_day])
    record = {"id": rid, "name": "客户1", "balance": 1}
    assert svc.send("repay_reminder", record, "139").status is NotificationStatus.SENT
    second = svc.send("repay_reminder", record, "139")
    assert (second.status, second.reason_code) == (NotificationStatus.REFUSED, "daily_limit")
    failing = NotificationService(session, Actor.system(), clock, schema=schema,
                                  channels={"sms": Down()})
    failed = failing.send("repay_reminder", record, "137")
    assert failed.status is NotificationStatus.FAILED and failed.reason == "gateway timeout"
    broken = failing.send("repay_reminder", {"id": rid}, "136")  # no name, no balance
    assert broken.status is NotificationStatus.FAILED and broken.reason_code == "template"
    assert "undefined" in (broken.reason or "")
    nowhere = NotificationService(session, Actor.system(), clock, schema=schema, channels={})
    assert nowhere.send("repay_reminder", record, "135").reason_code == "channel"


@pytest.mark.postgres
def test_concurrent_alerts_and_sends_happen_once(pg_engine) -> None:
    Session = sessionmaker(pg_engine)
    with Session.begin() as session:
        schema = make_schema(pg_engine)
        org = make_org(session)
        (rid,) = add_clients(session, schema, 1, owner=org.ids["am1"])
        reminder_template(session, org)
    barrier = threading.Barrier(6)
    outcomes: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session.begin() as session:
                barrier.wait(timeout=10)
                alert, _ = AlertService(session, Actor.system(), clock, schema=schema) \
                    .raise_alert("client", rid, title="失联", cause_key=f"lost:{rid}")
                sms = NotificationService(session, Actor.system(), clock, schema=schema).send(
                    "repay_reminder", {"id": rid, "name": "客户", "balance": 1}, "138",
                    f"sms:{rid}")
                outcomes.append((alert.id, sms.id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(set(outcomes)) == 1 and len(outcomes) == 6
    with Session() as session:
        assert session.execute(select(func.count()).select_from(db.alert)).scalar_one() == 1
        rows = session.execute(select(db.notification.c.status, db.notification.c.attempts)).all()
        assert [tuple(r) for r in rows] == [("sent", 1)]
