"""Form guards (docs/forms.md, "Guards") on SQLite and PostgreSQL: a collection guideline as
metadata. No contact between 22:00 and 08:00 in the customer's local time; at most 6
unanswered calls per phone number and local day."""

from __future__ import annotations

import threading
from copy import deepcopy
from datetime import UTC, datetime, time
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role, load_actor
from lendbase.config import load_settings
from lendbase.errors import MetadataError, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.guards import guard_lock, in_window, lock_key
from lendbase.forms.model import check_form
from lendbase.forms.publish import load_compiled_schema, publish_form
from lendbase.meta.store import MetadataStore
from lendbase.migrate import upgrade_database
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.sample_forms import label

CIPHER = FieldCipher.from_key_string(generate_key_string())
NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
NUMBER = "13812345678"
ROLE = {"collector": {"actions": ["create", "read", "update"], "scope": "all"}}


def _options(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": label(v, v)} for v in values]


def customer_form() -> dict[str, Any]:
    return {
        "key": "customer", "label": label("客户", "Customer"), "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": label("姓名", "Name"), "required": True},
            {"key": "timezone", "type": "select", "label": label("时区", "Time zone"),
             "options": _options("Asia/Shanghai", "Asia/Urumqi", "Europe/London")},
        ],
        "permissions": ROLE,
    }


QUIET = {"key": "no_night_contact", "type": "quiet_hours", "field": "contacted_at",
         "from": "22:00", "to": "08:00", "timezone_field": "customer.timezone"}
CAP = {"key": "unanswered_calls", "type": "daily_cap", "max": 6, "date_field": "contacted_at",
       "same": ["phone_number"], "timezone_field": "customer.timezone",
       "when": {"field": "channel", "op": "=", "value": "phone"},
       "count_where": {"field": "outcome", "op": "=", "value": "no_answer"},
       "message": {"zh": "该号码当天未接通拨打已达 {max} 次（{day}，{zone}），不能再拨",
                   "en": "{value} already had {count} unanswered calls on {day} ({zone}); "
                         "at most {max} a day"}}


def attempt_form(*guards: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": "contact_attempt", "label": label("催收联系", "Contact attempt"),
        "fields": [
            {"key": "customer", "type": "reference", "label": label("客户", "Customer"),
             "target": "customer", "required": True},
            {"key": "phone_number", "type": "phone", "label": label("电话号码", "Phone number"),
             "sensitive": True, "indexed": True, "required": True},
            {"key": "contacted_at", "type": "datetime",
             "label": label("催收联系时间", "Contact time"), "required": True},
            {"key": "channel", "type": "select", "label": label("渠道", "Channel"),
             "options": _options("phone", "sms"), "default": "phone"},
            {"key": "outcome", "type": "select", "label": label("结果", "Outcome"),
             "options": _options("answered", "no_answer")},
            {"key": "note", "type": "text", "label": label("备注", "Note")},
        ],
        "permissions": ROLE,
        "guards": list(guards or (QUIET, CAP)),
    }


def _publish(session: Session, *docs: dict[str, Any]) -> None:
    store = MetadataStore(session, None)
    for doc in docs:
        store.create("forms", doc)
        publish_form(session, None, doc["key"])


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    ensure_role(session, "collector")
    user_id = create_user(session, "c1", "collector-pass-1", ["collector"])
    _publish(session, customer_form(), attempt_form())
    session.commit()
    return {"user_id": user_id}


def _service(session: Session, world: dict[str, Any], lang: str = "en",
             schema: CompiledSchema | None = None) -> RecordService:
    actor = load_actor(session, world["user_id"], lang)
    return RecordService(session, schema or load_compiled_schema(session), actor, CIPHER,
                         clock=lambda: NOW)


def _customer(svc: RecordService, zone: str | None = "Asia/Shanghai") -> int:
    return int(svc.create("customer", {"name": "张三", "timezone": zone})["id"])


def _attempt(svc: RecordService, customer: int, at: str, *, number: str = NUMBER,
             outcome: str = "no_answer", channel: str = "phone") -> dict[str, Any]:
    return svc.create("contact_attempt", {"customer": customer, "phone_number": number,
                                          "contacted_at": at, "channel": channel,
                                          "outcome": outcome})


def _refusal(call: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        call()
    return info.value.fields


# --- quiet hours ------------------------------------------------------------------------------


def test_quiet_hours_in_the_business_zone(session, world) -> None:
    svc = _service(session, world)
    shanghai = _customer(svc)
    fields = _refusal(lambda: _attempt(svc, shanghai, "2026-03-02T23:10"))
    assert set(fields) == {"contacted_at"}
    assert fields["contacted_at"] == [
        "Contact time 23:10 (Asia/Shanghai) is within the no-contact hours 22:00–08:00; "
        "choose a time outside them"]
    zh = _service(session, world, "zh")
    assert _refusal(lambda: _attempt(zh, shanghai, "2026-03-02T23:10+08:00"))["contacted_at"] \
        == ["催收联系时间 23:10（Asia/Shanghai）在禁止联系时段 22:00–08:00 内，"
            "请选择该时段以外的时间"]
    # the window holds its start, not its end
    assert "22:00 (Asia/Shanghai)" in _refusal(
        lambda: _attempt(svc, shanghai, "2026-03-02T22:00"))["contacted_at"][0]
    assert "07:59" in _refusal(
        lambda: _attempt(svc, shanghai, "2026-03-03T07:59:59"))["contacted_at"][0]
    # the same instant given in UTC is still 23:10 in Shanghai
    assert _refusal(lambda: _attempt(svc, shanghai, "2026-03-02T15:10:00Z"))
    for allowed in ("2026-03-02T08:00", "2026-03-02T21:59", "2026-03-02T21:59:59"):
        assert _attempt(svc, shanghai, allowed)["id"]
    # a customer without a zone is contacted in the business zone
    nowhere = _customer(svc, None)
    assert _refusal(lambda: _attempt(svc, nowhere, "2026-03-02T23:10"))


def test_quiet_hours_in_the_customers_zone(session, world) -> None:
    svc = _service(session, world)
    london = _customer(svc, "Europe/London")
    urumqi = _customer(svc, "Asia/Urumqi")
    # 23:10 in Shanghai is 15:10 in London and 21:10 in Urumqi: allowed there
    assert _attempt(svc, london, "2026-03-02T23:10+08:00")["id"]
    assert _attempt(svc, urumqi, "2026-03-02T23:10+08:00")["id"]
    # 09:30 in Shanghai is 07:30 in Urumqi, 07:30 in Shanghai is 23:30 (yesterday) in London
    fields = _refusal(lambda: _attempt(svc, urumqi, "2026-03-03T09:30+08:00"))
    assert fields["contacted_at"][0].startswith("Contact time 07:30 (Asia/Urumqi)")
    fields = _refusal(lambda: _attempt(svc, london, "2026-03-03T07:30+08:00"))
    assert fields["contacted_at"][0].startswith("Contact time 23:30 (Europe/London)")
    # British summer time moves the window: 07:30 Shanghai in July is 00:30 in London
    assert "00:30 (Europe/London)" in _refusal(
        lambda: _attempt(svc, london, "2026-07-03T07:30+08:00"))["contacted_at"][0]
    assert _attempt(svc, london, "2026-07-03T15:30+08:00")["id"]  # 08:30 in London


def test_update_into_quiet_hours_is_refused_an_unrelated_edit_is_not(session, world) -> None:
    svc = _service(session, world)
    shanghai = _customer(svc)
    record = _attempt(svc, shanghai, "2026-03-02T21:00")
    fields = _refusal(lambda: svc.update("contact_attempt", record["id"],
                                         {"contacted_at": "2026-03-02T22:30"}))
    assert "22:30" in fields["contacted_at"][0]
    # moving the attempt to a London customer: 21:00 in Shanghai is 13:00 in London
    london = _customer(svc, "Europe/London")
    assert svc.update("contact_attempt", record["id"], {"customer": london})["version"] == 2
    # an attempt saved before the guard existed (here: stored directly) can still be edited
    cf = load_compiled_schema(session)["contact_attempt"]
    session.execute(cf.table.update().where(cf.table.c.id == record["id"]).values(
        contacted_at=datetime(2026, 3, 2, 23, 0, tzinfo=UTC)))  # 23:00 in London
    assert svc.update("contact_attempt", record["id"], {"note": "left a message"})["note"] \
        == "left a message"
    assert _refusal(lambda: svc.update("contact_attempt", record["id"],
                                       {"contacted_at": "2026-03-03T07:10+08:00"}))


# --- daily caps -------------------------------------------------------------------------------


def _six_unanswered(svc: RecordService, customer: int, day: str = "2026-03-02",
                    number: str = NUMBER) -> list[dict[str, Any]]:
    return [_attempt(svc, customer, f"{day}T{hour:02d}:15", number=number)
            for hour in (8, 9, 10, 11, 12, 13)]


def test_seventh_unanswered_call_of_the_day_is_refused(session, world) -> None:
    svc = _service(session, world)
    shanghai = _customer(svc)
    _six_unanswered(svc, shanghai)
    fields = _refusal(lambda: _attempt(svc, shanghai, "2026-03-02T20:00"))
    assert fields == {"phone_number": [
        "138****5678 already had 6 unanswered calls on 2026-03-02 (Asia/Shanghai); "
        "at most 6 a day"]}
    zh = _service(session, world, "zh")
    assert _refusal(lambda: _attempt(zh, shanghai, "2026-03-02T20:00"))["phone_number"] == [
        "该号码当天未接通拨打已达 6 次（2026-03-02，Asia/Shanghai），不能再拨"]
    # the number is compared by its keyed hash, whatever way it is written
    assert _refusal(lambda: _attempt(svc, shanghai, "2026-03-02T20:00",
                                     number="+86 138-1234-5678"))
    # what does not count is allowed: an answered call, an SMS, another number, the next day
    assert _attempt(svc, shanghai, "2026-03-02T20:00", outcome="answered")["id"]
    assert _attempt(svc, shanghai, "2026-03-02T20:05", channel="sms")["id"]
    assert _attempt(svc, shanghai, "2026-03-02T20:10", number="13900001111")["id"]
    assert _attempt(svc, shanghai, "2026-03-03T08:00")["id"]
    # another customer calling the same number shares the number's cap
    other = _customer(svc)
    assert _refusal(lambda: _attempt(svc, other, "2026-03-02T21:00"))


def test_the_local_day_decides(session, world) -> None:
    svc = _service(session, world)
    london = _customer(svc, "Europe/London")
    # 09:15 ... 14:15 London on 2 March is 17:15 ... 22:15 in Shanghai
    for hour in (17, 18, 19, 20, 21, 22):
        _attempt(svc, london, f"2026-03-02T{hour:02d}:15+08:00")
    # 04:00 on 3 March in Shanghai is still 2 March (20:00) in London: the 7th that day
    fields = _refusal(lambda: _attempt(svc, london, "2026-03-03T04:00+08:00"))
    assert "on 2026-03-02 (Europe/London)" in fields["phone_number"][0]
    # 08:00 on 3 March in London (16:00 Shanghai) is the next day
    assert _attempt(svc, london, "2026-03-03T16:00+08:00")["id"]


def test_an_update_does_not_count_the_record_itself(session, world) -> None:
    svc = _service(session, world)
    shanghai = _customer(svc)
    six = _six_unanswered(svc, shanghai)
    # the sixth call, edited or moved within the day, is still the sixth
    assert svc.update("contact_attempt", six[-1]["id"], {"note": "no voicemail"})["version"] == 2
    moved = svc.update("contact_attempt", six[0]["id"], {"contacted_at": "2026-03-02T21:30"})
    assert moved["version"] == 2
    # an answered call turned into an unanswered one would be the seventh
    answered = _attempt(svc, shanghai, "2026-03-02T20:00", outcome="answered")
    fields = _refusal(lambda: svc.update("contact_attempt", answered["id"],
                                         {"outcome": "no_answer"}))
    assert "6 unanswered calls" in fields["phone_number"][0]
    # moving one of the six to the next day makes room on this one
    svc.update("contact_attempt", six[1]["id"], {"contacted_at": "2026-03-03T09:00"})
    assert svc.update("contact_attempt", answered["id"], {"outcome": "no_answer"})["outcome"] \
        == "no_answer"


def test_guards_follow_the_published_version(session, world) -> None:
    svc = _service(session, world)
    shanghai = _customer(svc)
    _attempt(svc, shanghai, "2026-03-02T09:00")
    _attempt(svc, shanghai, "2026-03-02T10:00")
    store = MetadataStore(session, None)
    draft = store.get_draft("forms", "contact_attempt")
    doc = deepcopy(draft.doc)
    cap = {**CAP, "max": 2}
    del cap["message"]  # the default message
    doc["guards"] = [cap]
    store.save_draft("forms", "contact_attempt", doc, draft.lock_version)
    result = publish_form(session, None, "contact_attempt")
    assert result.applied and not result.report.plan.changes_schema  # metadata only: no DDL
    svc = _service(session, world)
    fields = _refusal(lambda: _attempt(svc, shanghai, "2026-03-02T11:00"))
    assert fields["phone_number"] == [
        "Phone number 138****5678 already has 2 record(s) counted on 2026-03-02 "
        "(Asia/Shanghai); at most 2 a day are allowed, so no more can be saved for that day"]
    # quiet hours are gone with the new version
    assert _attempt(svc, shanghai, "2026-03-02T23:30", outcome="answered")["id"]


def test_a_guard_without_conditions_counts_every_record(session, world) -> None:
    store = MetadataStore(session, None)
    doc = attempt_form({"key": "two_a_day", "type": "daily_cap", "max": 2,
                        "date_field": "contacted_at", "same": ["customer", "channel"]})
    doc["key"] = "visit"
    _publish(session, doc)
    assert store.published("forms", "visit") is not None
    svc = _service(session, world)
    shanghai = _customer(svc)

    def visit(at: str, channel: str = "phone") -> dict[str, Any]:
        return svc.create("visit", {"customer": shanghai, "phone_number": NUMBER,
                                    "contacted_at": at, "channel": channel,
                                    "outcome": "answered"})

    visit("2026-03-02T23:00")
    visit("2026-03-02T23:30")
    fields = _refusal(lambda: visit("2026-03-02T12:00"))
    assert fields["customer"][0].startswith("Customer / Channel ")
    assert visit("2026-03-02T12:00", channel="sms")["id"]


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_parallel_saves_wait_for_the_cap_on_postgres(pg_engine: Engine) -> None:
    sessions = sessionmaker(pg_engine, expire_on_commit=False)
    with sessions.begin() as session:
        ensure_role(session, "collector")
        user_id = create_user(session, "c1", "collector-pass-1", ["collector"])
        _publish(session, customer_form(), attempt_form())
    world = {"user_id": user_id}
    with sessions.begin() as session:
        svc = _service(session, world)
        shanghai = _customer(svc)
        for hour in (8, 9, 10, 11, 12):
            _attempt(svc, shanghai, f"2026-03-02T{hour:02d}:15")
    first = sessions()
    _attempt(_service(first, world), shanghai, "2026-03-02T14:00")  # the 6th, not committed
    outcome: dict[str, Any] = {}

    def second() -> None:
        with sessions() as session:
            try:
                _attempt(_service(session, world), shanghai, "2026-03-02T15:00")
                session.commit()
                outcome["saved"] = True
            except ValidationFailed as exc:
                outcome["refused"] = exc.fields

    thread = threading.Thread(target=second, daemon=True)
    try:
        thread.start()
        thread.join(0.5)
        waited = thread.is_alive()
        first.commit()
    finally:
        first.close()  # never leave the lock held: the schema is dropped after the test
    thread.join(10)
    assert waited, "the second save must wait for the first one's lock"
    assert outcome == {"refused": {"phone_number": [
        "138****5678 already had 6 unanswered calls on 2026-03-02 (Asia/Shanghai); "
        "at most 6 a day"]}}


def test_lock_compiles_per_dialect(engine: Engine) -> None:
    statement = select(guard_lock(lock_key("contact_attempt", "x")))
    sql = str(statement.compile(dialect=engine.dialect))
    if engine.dialect.name == "postgresql":
        assert "pg_advisory_xact_lock(" in sql
    else:
        assert sql == "SELECT NULL AS guard_lock_1"
    with engine.connect() as conn:
        conn.execute(statement)


def test_window_and_lock_key() -> None:
    assert in_window(time(23, 10), time(22), time(8))
    assert in_window(time(0), time(22), time(8))
    assert not in_window(time(8), time(22), time(8))
    assert not in_window(time(21, 59), time(22), time(8))
    assert in_window(time(12), time(12), time(13)) and not in_window(time(13), time(12), time(13))
    key = lock_key("a", "b")
    assert -(2**63) <= key < 2**63 and key == lock_key("a", "b") != lock_key("a", "c")


# --- publish checks ---------------------------------------------------------------------------


def _errors(*guards: dict[str, Any], fields: list[dict[str, Any]] | None = None
            ) -> dict[str, list[str]]:
    doc = attempt_form(*guards)
    if fields:
        doc["fields"] += fields
    with pytest.raises(MetadataError) as info:
        check_form(doc)
    return info.value.errors


def test_the_example_guards_are_valid() -> None:
    assert check_form(attempt_form()).key == "contact_attempt"


def test_bad_guards_are_refused_with_a_fix() -> None:
    errors = _errors(
        {**QUIET, "field": "contacted_on", "from": "25:00", "max": 3},
        {**QUIET, "field": "note", "timezone_field": "phone_number.timezone"},
        {**CAP, "key": "no_night_contact", "max": 0, "date_field": "channel",
         "same": ["plain_phone", "tags"],
         "count_where": {"and": [{"field": "outcome", "op": "=", "value": "no_answer"},
                                 {"field": "result", "op": "=", "value": "x"}]},
         "message": {"zh": "已达 {limit} 次", "en": "reached {max} {"}},
        {**QUIET, "key": "zones", "from": "08:00", "to": "08:00", "timezone_field": "note",
         "when": {"field": "secret", "op": "contains", "value": "1"}},
        {**CAP, "key": "by_secret", "same": ["secret"], "timezone_field": "zone"},
        fields=[{"key": "plain_phone", "type": "phone", "label": label("电话", "Phone"),
                 "sensitive": True},
                {"key": "secret", "type": "text", "label": label("密", "Secret"),
                 "sensitive": True},
                {"key": "zone", "type": "select", "label": label("时区", "Zone"),
                 "options": _options("Asia/Shanghai", "Mars/Olympus")},
                {"key": "tags", "type": "multiselect", "label": label("标签", "Tags"),
                 "options": _options("a")}])
    assert errors["/guards/0/field"] == [
        "'contacted_on' is not a field of this form; the contact time is a datetime field: "
        "use one of: contacted_at"]
    assert "write HH:MM on a 24-hour clock, e.g. 22:00" in errors["/guards/0/from"][0]
    assert errors["/guards/0/max"] == ["'max' does not apply to a quiet_hours guard; remove it"]
    assert errors["/guards/1/field"][0].startswith("'note' is a text field; the contact time")
    assert "not a reference field of this form" in errors["/guards/1/timezone_field"][0]
    assert "keys must be unique" in errors["/guards/2/key"][0]
    assert "give at least 1" in errors["/guards/2/max"][0]
    assert errors["/guards/2/date_field"][0].startswith("'channel' is a select field; the day")
    assert "mark the field indexed" in errors["/guards/2/same/0"][0]
    assert "multiselect" in errors["/guards/2/same/1"][0]
    assert "unknown field 'result'" in errors["/guards/2/count_where/and/1"][0]
    assert "{limit}" in errors["/guards/2/message/zh"][0]
    assert "stray brace" in errors["/guards/2/message/en"][0]
    assert "is empty" in errors["/guards/3/to"][0]
    assert "encrypted" in errors["/guards/3/when"][0]
    assert "mark the field indexed" in errors["/guards/4/same/0"][0]
    assert "'Mars/Olympus'" in errors["/guards/4/timezone_field"][0]


def test_guard_conditions_test_the_record_itself() -> None:
    errors = _errors({**CAP, "when": {"and": [
        {"field": "channel", "op": "=", "value": "phone"},
        {"not": {"exists": {"form": "contact_attempt", "link": "customer"}}}]}})
    assert errors["/guards/0/when/and/1/not"] == [
        "a guard's condition tests the fields of the record being saved, not related records; "
        "remove \"exists\" (conditions on related records belong to rules and segments)"]
    errors = _errors({**CAP, "count_where": {"field": "outcome", "op": "in_last",
                                             "value": [3, "day"]}})
    assert "/guards/0/count_where" in errors
    errors = _errors({**QUIET, "timezone_field": "customer.timezone", "type": "daily_cap"})
    assert "'max' is required: add it" in errors["/guards/0"]


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path):
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path)}), TESTING=True)
    state = app.extensions["lendbase"]
    upgrade_database(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "collector")
        create_user(session, "c1", "collector-pass-1", ["collector"])
        _publish(session, customer_form(), attempt_form())
    return app


def test_api_answers_422_with_the_field_and_message_in_both_languages(app) -> None:
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "c1",
                                                     "password": "collector-pass-1"})
    headers = {"Authorization": f"Bearer {token.json['token']}"}
    customer = client.post("/api/v1/records/customer", headers=headers,
                           json={"name": "张三", "timezone": "Asia/Shanghai"}).json["id"]
    body = {"customer": customer, "phone_number": NUMBER, "contacted_at": "2026-03-02T23:10",
            "channel": "phone", "outcome": "no_answer"}
    for lang, text in (
            ("zh", "催收联系时间 23:10（Asia/Shanghai）在禁止联系时段 22:00–08:00 内，"
                   "请选择该时段以外的时间"),
            ("en", "Contact time 23:10 (Asia/Shanghai) is within the no-contact hours "
                   "22:00–08:00; choose a time outside them")):
        response = client.post("/api/v1/records/contact_attempt", json=body,
                               headers={**headers, "Accept-Language": lang})
        assert response.status_code == 422, response.json
        error = response.json["error"]
        assert error["code"] == "validation_failed"
        assert error["fields"] == {"contacted_at": [text]}
    ok = client.post("/api/v1/records/contact_attempt", headers=headers,
                     json={**body, "contacted_at": "2026-03-02T21:59"})
    assert ok.status_code == 201, ok.json


def test_guard_reads_zone_of_another_form_checked_at_save(session, world) -> None:
    """A timezone_field naming a field the other form does not have is refused loudly when
    the guard runs (the other form is not known when this one is checked)."""
    store = MetadataStore(session, None)
    doc = attempt_form({**QUIET, "timezone_field": "customer.name"})
    doc["key"] = "bad_zone"
    store.create("forms", doc)
    publish_form(session, None, "bad_zone")
    svc = _service(session, world)
    shanghai = _customer(svc)
    created = svc.create("bad_zone", {"customer": shanghai, "phone_number": NUMBER,
                                      "contacted_at": "2026-03-02T12:00"})
    assert created["id"]  # 'name' is a text field: a name that is no zone means Shanghai
    doc = attempt_form({**QUIET, "timezone_field": "customer.missing"})
    doc["key"] = "worse_zone"
    store.create("forms", doc)
    publish_form(session, None, "worse_zone")
    svc = _service(session, world)
    with pytest.raises(MetadataError) as info:
        svc.create("worse_zone", {"customer": shanghai, "phone_number": NUMBER,
                                  "contacted_at": "2026-03-02T12:00"})
    assert "'missing' is not a field of form 'customer'" in info.value.message
    assert list(info.value.errors) == ["/guards/0/timezone_field"]


def test_system_actor_is_held_to_the_guards_too(session, world) -> None:
    svc = RecordService(session, load_compiled_schema(session), Actor.system(), CIPHER,
                        clock=lambda: NOW)
    shanghai = _customer(svc)
    assert _refusal(lambda: _attempt(svc, shanghai, "2026-03-02T23:10"))["contacted_at"]
