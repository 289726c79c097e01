"""Schema evolution on real databases: dry-run, refusals, backfill, archive/restore.

Every test runs on SQLite and on PostgreSQL (the ``session`` fixture). The invariant under test:
no published change loses or truncates a value.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import MetadataError, MigrationRefused
from lendbase.forms.compile import compile_schema
from lendbase.forms.migration import apply_plan, archived_child_table, plan_migration
from lendbase.forms.model import FieldDef, check_form
from lendbase.forms.publish import PublishResult, load_compiled_schema, publish_form
from lendbase.forms.values import FieldValueError, coerce_value, is_empty
from lendbase.meta.store import MetadataStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def L(text: str) -> dict[str, str]:
    return {"zh": text, "en": text}


def fld(key: str, type_: str = "text", **props: Any) -> dict[str, Any]:
    return {"key": key, "type": type_, "label": L(key.replace("_", " ")), **props}


def opts(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": L(v)} for v in values]


def doc(key: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "label": L(key), "fields": list(fields)}


def save(session: Session, document: dict[str, Any]) -> None:
    store = MetadataStore(session, None)
    if any(d["key"] == document["key"] for d in store.list_keys("forms")):
        store.save_draft("forms", document["key"], document)
    else:
        store.create("forms", document)


def publish(session: Session, document: dict[str, Any], **kw: Any) -> PublishResult:
    """Save ``document`` as the draft and publish it (committing when it was applied)."""
    save(session, document)
    result = publish_form(session, None, document["key"], **kw)
    if result.applied:
        session.commit()
    return result


def refused(session: Session, document: dict[str, Any], **kw: Any) -> MigrationRefused:
    with pytest.raises(MigrationRefused) as exc:
        publish(session, document, **kw)
    session.rollback()
    return exc.value


def add_rows(session: Session, form_key: str, *rows: dict[str, Any]) -> list[int]:
    table = load_compiled_schema(session)[form_key].table
    ids = []
    for row in rows:
        result = session.execute(insert(table).values(created_at=NOW, updated_at=NOW, version=1,
                                                      **row))
        ids.append(result.inserted_primary_key[0])
    session.commit()
    return ids


def values(session: Session, form_key: str, key: str) -> dict[int, Any]:
    table = load_compiled_schema(session)[form_key].table
    return dict(session.execute(select(table.c.id, table.c[key]).order_by(table.c.id)).all())


def op_report(result: PublishResult | MigrationRefused, kind: str) -> dict[str, Any]:
    report = result.report if isinstance(result, PublishResult) else result.plan
    found = [o for o in report.to_dict()["operations"] if o["kind"] == kind]
    assert len(found) == 1, [o["kind"] for o in report.to_dict()["operations"]]
    return found[0]


CUSTOMER = doc("customer",
               fld("name", max_length=100),
               fld("income"),
               fld("grade", "select", options=opts("A", "B", "C")),
               fld("limit_amount", "money"),
               fld("items", "subtable", fields=[fld("amount", "money"), fld("memo")]))


def edit(document: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    by_key = {f["key"]: f for f in out["fields"]}
    for key, value in fields.items():
        if value is None:
            by_key.pop(key)
        else:
            by_key[key] = value
    out["fields"] = list(by_key.values())
    return out


@pytest.fixture
def customers(session: Session) -> list[int]:
    publish(session, CUSTOMER)
    return add_rows(
        session, "customer",
        {"name": "Li Lei", "income": "8000", "grade": "A", "limit_amount": Decimal("1234.56")},
        {"name": "Han Meimei", "income": "about 8k", "grade": "C"},
        {"name": "Wang Wu", "income": " 12,000 ", "grade": "B",
         "limit_amount": Decimal("99999999.99")},
        {"name": "Zhao Liu", "income": None, "grade": "C", "limit_amount": Decimal("0.01")},
    )


# --- creating and adding ------------------------------------------------------------------------


def test_first_publish_creates_tables_indexes_and_a_version(session: Session) -> None:
    publish(session, doc("branch", fld("code", unique=True), fld("city", indexed=True)))
    result = publish(session, doc("loan", fld("branch", "reference", target="branch"),
                                  fld("amount", "money", required=True),
                                  fld("lines", "subtable", fields=[fld("n", "integer")])))
    assert result.applied and result.version is not None and result.version.version == 1
    inspector = sa_inspect(session.connection())
    assert {"f_branch", "f_loan", "f_loan__lines"} <= set(inspector.get_table_names())
    indexes = {ix["name"]: ix for ix in inspector.get_indexes("f_branch")}
    assert indexes["uq_f_branch_code"]["unique"]
    assert indexes["ix_f_branch_city"]["column_names"] == ["city", "id"]
    # the reference is a real foreign key
    with pytest.raises(IntegrityError):
        add_rows(session, "loan", {"branch": 999, "amount": Decimal(1)})
    session.rollback()
    # the unique index holds
    add_rows(session, "branch", {"code": "BJ"})
    with pytest.raises(IntegrityError):
        add_rows(session, "branch", {"code": "BJ"})
    session.rollback()


def test_unknown_reference_target_is_reported_with_its_pointer(session: Session) -> None:
    save(session, doc("loan", fld("amount", "money"),
                      fld("lines", "subtable", fields=[fld("who", "reference", target="nobody")])))
    with pytest.raises(MetadataError) as exc:
        publish_form(session, None, "loan")
    assert list(exc.value.errors) == ["/fields/1/fields/0/target"]


def test_publishing_the_same_draft_again_is_a_noop(session: Session, customers: list[int]
                                                   ) -> None:
    store = MetadataStore(session, None)
    generation = store.generation()
    result = publish(session, CUSTOMER)
    assert result.unchanged and not result.applied and result.version.version == 1
    assert store.generation() == generation


def test_add_field_is_applied_without_confirmation(session: Session,
                                                   customers: list[int]) -> None:
    result = publish(session, edit(CUSTOMER, phone=fld("phone", "phone", indexed=True)))
    assert result.applied and result.version.version == 2
    assert op_report(result, "add_field")["rows_affected"] == 4
    assert values(session, "customer", "phone") == dict.fromkeys(customers)
    assert values(session, "customer", "income")[customers[0]] == "8000"


def test_metadata_only_change_publishes_a_version_without_schema_change(
        session: Session, customers: list[int]) -> None:
    changed = copy.deepcopy(CUSTOMER)
    changed["label"] = L("Client")
    result = publish(session, changed)
    assert result.applied and result.version.version == 2
    assert [o["kind"] for o in result.report.to_dict()["operations"]] == ["metadata_only"]


def test_new_metadata_generation_on_publish(session: Session) -> None:
    store = MetadataStore(session, None)
    before = store.generation()
    publish(session, doc("branch", fld("code")))
    assert store.generation() == before + 1


# --- archive and restore ------------------------------------------------------------------------


def test_archived_field_keeps_its_data_and_comes_back(session: Session,
                                                      customers: list[int]) -> None:
    before = values(session, "customer", "income")
    result = publish(session, edit(CUSTOMER, income=None))
    report = op_report(result, "archive_field")
    assert report["risk"] == "safe" and report["rows_affected"] == 3
    schema = load_compiled_schema(session)
    assert [f.key for f in schema["customer"].archived] == ["income"]
    assert values(session, "customer", "income") == before  # the column is still readable
    row = session.execute(select(db.form_schema.c.archived)
                          .where(db.form_schema.c.form_key == "customer")).scalar_one()
    assert [f["key"] for f in row] == ["income"]
    # re-adding the key restores the column and its values
    result = publish(session, CUSTOMER)
    assert op_report(result, "restore_field")["rows_affected"] == 3
    assert values(session, "customer", "income") == before
    assert load_compiled_schema(session)["customer"].archived == ()


def test_archived_unique_field_loses_only_its_unique_index(session: Session) -> None:
    publish(session, doc("branch", fld("code", unique=True), fld("city")))
    add_rows(session, "branch", {"code": "BJ", "city": "Beijing"})
    publish(session, doc("branch", fld("city")))
    names = {ix["name"] for ix in sa_inspect(session.connection()).get_indexes("f_branch")}
    assert "uq_f_branch_code" not in names
    add_rows(session, "branch", {"code": "BJ", "city": "Shanghai"})  # archived: no longer unique
    assert sorted(values(session, "branch", "code").values()) == ["BJ", "BJ"]


def test_archived_subtable_keeps_its_rows(session: Session, customers: list[int]) -> None:
    child = load_compiled_schema(session)["customer"].child_tables["items"]
    session.execute(insert(child).values(parent_id=customers[0], seq=1,
                                         amount=Decimal("10.50"), memo="first"))
    session.commit()
    publish(session, edit(CUSTOMER, items=None))
    kept = archived_child_table(load_compiled_schema(session)["customer"], "items")
    assert kept is not None
    assert session.execute(select(kept.c.amount, kept.c.memo)).all() == \
        [(Decimal("10.50"), "first")]
    publish(session, CUSTOMER)
    child = load_compiled_schema(session)["customer"].child_tables["items"]
    assert session.execute(select(child.c.memo)).scalars().all() == ["first"]


def test_parent_table_changes_never_touch_child_rows(session: Session,
                                                     customers: list[int]) -> None:
    """SQLite batch mode would recreate the parent and cascade-delete the sub-table rows."""
    child = load_compiled_schema(session)["customer"].child_tables["items"]
    session.execute(insert(child).values(parent_id=customers[1], seq=1, amount=Decimal("1")))
    session.commit()
    publish(session, edit(CUSTOMER, name=fld("name", max_length=300),
                          grade=fld("grade", "select", options=opts("A", "B", "C"), unique=False,
                                    indexed=True)), confirm=True)
    assert session.execute(select(child.c.parent_id)).scalars().all() == [customers[1]]


# --- type changes -------------------------------------------------------------------------------


def test_text_to_integer_lists_bad_values_refuses_then_accepts_a_backfill(
        session: Session, customers: list[int]) -> None:
    target = edit(CUSTOMER, income=fld("income", "integer"))
    dry = publish(session, target, dry_run=True)
    assert not dry.applied and dry.version is None
    report = op_report(dry, "change_type")
    assert report["blocking"] and report["rows_unresolved"] == 1
    assert report["rows_affected"] == 3 and report["total_rows"] == 4
    (sample,) = report["samples"]
    assert sample["record_id"] == customers[1] and sample["value"] == "about 8k"
    assert "not a whole number" in sample["reason"]
    assert "1 of 4 rows" in report["summary"] and "about 8k" in report["summary"]
    zh = dry.report.to_dict("zh")["operations"][0]["samples"][0]["reason"]
    assert "不是整数" in zh
    # refused (even when confirmed), and nothing changed
    exc = refused(session, target, confirm=True)
    assert "about 8k" in exc.message and exc.plan.blocking
    assert values(session, "customer", "income")[customers[1]] == "about 8k"
    # with a backfill map it goes through; every other value is converted exactly
    result = publish(session, target, confirm=True,
                     backfill={"income": {"map": {"about 8k": "8000"}}})
    assert result.applied
    assert op_report(result, "change_type")["rows_mapped"] == 1
    assert values(session, "customer", "income") == {
        customers[0]: 8000, customers[1]: 8000, customers[2]: 12000, customers[3]: None}
    # the other columns were not touched
    assert values(session, "customer", "limit_amount")[customers[2]] == Decimal("99999999.99")


def test_samples_name_the_record_by_its_title_and_refusals_speak_the_callers_language(
        session: Session, customers: list[int]) -> None:
    titled = {**CUSTOMER, "title_field": "name"}
    publish(session, titled, confirm=True)
    target = edit(titled, income=fld("income", "integer"))
    report = op_report(publish(session, target, dry_run=True), "change_type")
    (sample,) = report["samples"]
    assert sample["record_id"] == customers[1] and sample["title"] == "Han Meimei"
    assert f"record #{customers[1]} Han Meimei 'about 8k'" in report["summary"]
    exc = refused(session, target, confirm=True, lang="zh")
    assert exc.message.startswith("发布表单“customer”被拒绝，未做任何更改")
    assert f"记录 #{customers[1]} Han Meimei “about 8k”" in exc.message
    assert exc.lang == "zh"
    assert "不是整数" in exc.plan.to_dict("zh")["operations"][0]["samples"][0]["reason"]
    exc = refused(session, target, backfill={"income": {"else": None}}, lang="zh")
    assert "需要确认" in exc.message and "confirm=1" in exc.message

def test_risky_change_needs_confirmation(session: Session, customers: list[int]) -> None:
    target = edit(CUSTOMER, income=fld("income", "integer"))
    exc = refused(session, target, backfill={"income": {"else": None}})
    assert "needs confirmation" in exc.message and "confirm=1" in exc.message
    result = publish(session, target, confirm=True, backfill={"income": {"else": None}})
    assert op_report(result, "change_type")["rows_cleared"] == 1
    assert values(session, "customer", "income")[customers[1]] is None


def test_invalid_backfill_is_a_metadata_error(session: Session, customers: list[int]) -> None:
    save(session, edit(CUSTOMER, income=fld("income", "integer")))
    with pytest.raises(MetadataError) as exc:
        publish_form(session, None, "customer", confirm=True,
                     backfill={"income": {"map": {"about 8k": "eight"}}})
    assert list(exc.value.errors) == ["/backfill/income/map/about 8k"]


def test_text_to_date_and_decimal(session: Session) -> None:
    publish(session, doc("event", fld("day"), fld("rate")))
    ids = add_rows(session, "event", {"day": "2024-02-29", "rate": "0.125"},
                   {"day": " 2025-01-01 ", "rate": "1,000.5"}, {"day": None, "rate": "7"})
    publish(session, doc("event", fld("day", "date"), fld("rate", "decimal", decimals=3)),
            confirm=True)
    assert values(session, "event", "day") == {ids[0]: date(2024, 2, 29),
                                               ids[1]: date(2025, 1, 1), ids[2]: None}
    assert values(session, "event", "rate") == {ids[0]: Decimal("0.125"),
                                                ids[1]: Decimal("1000.5"), ids[2]: Decimal(7)}


def test_narrowing_a_length_lists_long_values_and_refuses(session: Session,
                                                          customers: list[int]) -> None:
    target = edit(CUSTOMER, name=fld("name", max_length=7))
    exc = refused(session, target, confirm=True)
    report = op_report(exc, "narrow_length")
    assert report["rows_unresolved"] == 2
    assert {s["value"] for s in report["samples"]} == {"Han Meimei", "Zhao Liu"}
    assert all("at most 7" in s["reason"] for s in report["samples"])
    assert values(session, "customer", "name")[customers[1]] == "Han Meimei"
    # with the long values shortened explicitly, it publishes and nothing is truncated
    result = publish(session, target, confirm=True,
                     backfill={"name": {"map": {"Han Meimei": "Han M.", "Zhao Liu": "Zhao L."}}})
    assert result.applied
    assert values(session, "customer", "name") == {
        customers[0]: "Li Lei", customers[1]: "Han M.", customers[2]: "Wang Wu",
        customers[3]: "Zhao L."}


def test_make_unique_lists_duplicates(session: Session, customers: list[int]) -> None:
    target = edit(CUSTOMER, grade=fld("grade", "select", options=opts("A", "B", "C"),
                                      unique=True))
    exc = refused(session, target, confirm=True)
    report = op_report(exc, "make_unique")
    assert report["rows_duplicate"] == 2 and report["blocking"]
    (sample,) = report["samples"]
    assert sample["value"] == "C" and sample["rows"] == 2
    assert sample["record_id"] == customers[1]


def test_make_required_lists_empty_rows_and_can_fill_them(session: Session,
                                                          customers: list[int]) -> None:
    target = edit(CUSTOMER, limit_amount=fld("limit_amount", "money", required=True))
    dry = publish(session, target, dry_run=True)
    report = op_report(dry, "make_required")
    assert report["rows_affected"] == 1 and not report["blocking"]
    assert [s["record_id"] for s in report["samples"]] == [customers[1]]
    result = publish(session, target, confirm=True,
                     backfill={"limit_amount": {"fill": "500"}})
    assert op_report(result, "make_required")["rows_filled"] == 1
    assert values(session, "customer", "limit_amount")[customers[1]] == Decimal("500.00")
    assert values(session, "customer", "limit_amount")[customers[0]] == Decimal("1234.56")


def test_money_decimals_two_to_four_keeps_every_value(session: Session,
                                                      customers: list[int]) -> None:
    before = values(session, "customer", "limit_amount")
    result = publish(session, edit(CUSTOMER, limit_amount=fld("limit_amount", "money",
                                                              decimals=4)), confirm=True)
    assert op_report(result, "change_precision")["rows_not_converting"] == 0
    assert values(session, "customer", "limit_amount") == before
    # and back to 2 decimals: 4-place values would not convert
    add_rows(session, "customer", {"name": "Sun Qi", "limit_amount": Decimal("1.2345")})
    exc = refused(session, CUSTOMER, confirm=True)
    (sample,) = op_report(exc, "change_precision")["samples"]
    assert sample["value"] == "1.2345" and "4 decimals" in sample["reason"]


def test_removing_an_option_in_use_is_listed(session: Session, customers: list[int]) -> None:
    target = edit(CUSTOMER, grade=fld("grade", "select", options=opts("A", "B")))
    exc = refused(session, target, confirm=True)
    report = op_report(exc, "remove_options")
    assert report["rows_unresolved"] == 2
    assert report["samples"][0]["value"] == "C" and report["samples"][0]["rows"] == 2
    publish(session, target, confirm=True, backfill={"grade": {"map": {"C": "B"}}})
    assert values(session, "customer", "grade") == {
        customers[0]: "A", customers[1]: "B", customers[2]: "B", customers[3]: "B"}


def test_subtable_field_conversion(session: Session, customers: list[int]) -> None:
    child = load_compiled_schema(session)["customer"].child_tables["items"]
    session.execute(insert(child), [
        {"parent_id": customers[0], "seq": 1, "memo": "12"},
        {"parent_id": customers[2], "seq": 1, "memo": "n/a"}])
    session.commit()
    target = copy.deepcopy(CUSTOMER)
    target["fields"][4]["fields"][1] = fld("memo", "integer")
    exc = refused(session, target, confirm=True)
    (sample,) = op_report(exc, "change_type")["samples"]
    assert sample["record_id"] == customers[2] and sample["value"] == "n/a"
    assert sample["row_id"] is not None
    publish(session, target, confirm=True, backfill={"items.memo": {"else": None}})
    child = load_compiled_schema(session)["customer"].child_tables["items"]
    assert session.execute(select(child.c.memo).order_by(child.c.id)).scalars().all() == \
        [12, None]


def test_sensitive_toggle_with_data_is_refused(session: Session, customers: list[int]) -> None:
    exc = refused(session, edit(CUSTOMER, name=fld("name", max_length=100, sensitive=True)),
                  confirm=True)
    assert "re-encryption job" in op_report(exc, "toggle_sensitive")["blocking_reason"]


def test_multiselect_option_removal_maps_items(session: Session) -> None:
    tags = fld("tags", "multiselect", options=opts("vip", "new", "old"))
    publish(session, doc("lead", tags))
    ids = add_rows(session, "lead", {"tags": ["vip", "old"]}, {"tags": ["new"]},
                   {"tags": ["old"]})
    target = doc("lead", fld("tags", "multiselect", options=opts("vip", "new")))
    exc = refused(session, target, confirm=True)
    assert op_report(exc, "remove_options")["rows_unresolved"] == 2
    publish(session, target, confirm=True, backfill={"tags": {"map": {"old": None}}})
    assert values(session, "lead", "tags") == {ids[0]: ["vip"], ids[1]: ["new"], ids[2]: None}


def test_reference_retarget_of_an_empty_column(session: Session) -> None:
    publish(session, doc("branch", fld("code")))
    publish(session, doc("agency", fld("code")))
    publish(session, doc("loan", fld("amount", "money"),
                         fld("office", "reference", target="branch")))
    branch, = add_rows(session, "branch", {"code": "BJ"})
    loan, = add_rows(session, "loan", {"amount": Decimal(5), "office": branch})
    target = doc("loan", fld("amount", "money"), fld("office", "reference", target="agency"))
    exc = refused(session, target, confirm=True)
    assert "old target" in op_report(exc, "retarget_reference")["blocking_reason"]
    table = load_compiled_schema(session)["loan"].table
    session.execute(table.update().values(office=None))
    session.commit()
    publish(session, target, confirm=True)
    agency, = add_rows(session, "agency", {"code": "A1"})
    table = load_compiled_schema(session)["loan"].table
    session.execute(table.update().values(office=agency))
    session.commit()
    assert values(session, "loan", "office") == {loan: agency}
    with pytest.raises(IntegrityError):  # the foreign key now points at agencies
        session.execute(table.update().values(office=agency + 100))
        session.commit()
    session.rollback()


def test_search_and_value_indexes_follow_the_flags(session: Session) -> None:
    publish(session, doc("note", fld("title"), fld("body", "textarea")))
    publish(session, doc("note", fld("title", indexed=True, searchable=True),
                         fld("body", "textarea")))
    names = {ix["name"] for ix in sa_inspect(session.connection()).get_indexes("f_note")}
    assert {"ix_f_note_title", "ix_f_note_title_trgm"} <= names
    publish(session, doc("note", fld("title"), fld("body", "textarea")))
    names = {ix["name"] for ix in sa_inspect(session.connection()).get_indexes("f_note")}
    assert not names & {"ix_f_note_title", "ix_f_note_title_trgm"}


def test_trigram_index_is_skipped_without_pg_trgm(session: Session,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from lendbase.forms.migration import apply

    monkeypatch.setattr(apply, "_trgm_available", lambda conn: False)
    result = publish(session, doc("note", fld("title", searchable=True)))
    assert result.applied and result.skipped_indexes == ("ix_f_note_title_trgm",)
    names = {ix["name"] for ix in sa_inspect(session.connection()).get_indexes("f_note")}
    assert "ix_f_note_title_trgm" not in names


def test_textarea_narrowing_checks_values_in_place(session: Session) -> None:
    publish(session, doc("note", fld("body", "textarea")))
    ids = add_rows(session, "note", {"body": "short"}, {"body": "x" * 30})
    exc = refused(session, doc("note", fld("body", "textarea", max_length=10)), confirm=True)
    assert op_report(exc, "narrow_length")["rows_unresolved"] == 1
    publish(session, doc("note", fld("body", "textarea", max_length=40)), confirm=True)
    assert values(session, "note", "body") == {ids[0]: "short", ids[1]: "x" * 30}


def test_failed_apply_rolls_back_the_ddl(session: Session) -> None:
    """'012' and '12' differ as text but both become 12: the unique index fails late."""
    publish(session, doc("code", fld("c")))
    add_rows(session, "code", {"c": "012"}, {"c": "12"})
    refused(session, doc("code", fld("c", "integer", unique=True), fld("extra")), confirm=True)
    columns = {c["name"]: c for c in sa_inspect(session.connection()).get_columns("f_code")}
    assert "extra" not in columns and "c__lbconv" not in columns
    assert sorted(values(session, "code", "c").values()) == ["012", "12"]


def test_apply_plan_ddl_is_rolled_back_with_the_transaction(session: Session) -> None:
    """The sqlite3 driver would autocommit DDL issued before any DML; apply_plan prevents it."""
    publish(session, doc("memo", fld("a")))
    old = load_compiled_schema(session)["memo"]
    new_form = check_form(doc("memo", fld("a"), fld("b", "integer")))
    plan = plan_migration(old.form, new_form)
    new = compile_schema([(new_form, (), "", 2)])["memo"]
    session.commit()
    apply_plan(session, plan, old, new)
    assert "b" in {c["name"] for c in sa_inspect(session.connection()).get_columns("f_memo")}
    session.rollback()
    assert "b" not in {c["name"] for c in sa_inspect(session.connection()).get_columns("f_memo")}


# --- the invariant: no value is lost or truncated -----------------------------------------------

_TARGETS = {
    "integer": fld("v", "integer"),
    "decimal": fld("v", "decimal", decimals=2),
    "date": fld("v", "date"),
    "short_text": fld("v", max_length=6),
}
_counter = itertools.count()
_chars = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
_any_text = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.decimals(min_value=-10**9, max_value=10**9, places=3, allow_nan=False).map(str),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
    st.text(_chars, max_size=12),
)
#: Text that converts to each target, in canonical and in looser spellings.
_convertible = {
    "integer": st.one_of(st.integers(-10**15, 10**15).map(str),
                         st.integers(-10**9, 10**9).map(lambda i: f" {i:,} ")),
    "decimal": st.one_of(
        st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False).map(str),
        st.integers(-10**6, 10**6).map(lambda i: f"{i:,}.5")),
    "date": st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
    .map(lambda d: f" {d.isoformat()}"),
    "short_text": st.text(_chars, max_size=6),
}


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, list[str]]:
    target = draw(st.sampled_from(sorted(_TARGETS)))
    garbage = draw(st.booleans())  # half the cases hold text that may not convert
    item = st.one_of(_convertible[target], _any_text) if garbage else _convertible[target]
    return target, draw(st.lists(item, min_size=1, max_size=6))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(case=_case())
def test_no_published_change_loses_or_truncates_a_value(session: Session,
                                                        case: tuple[str, list[str]]) -> None:
    """Accepted publishes keep every value exactly as coerce_value reads it; any value that
    coerce_value rejects refuses the publish and leaves the data untouched."""
    target, raw = case
    key = f"prop{next(_counter)}"
    publish(session, doc(key, fld("v", max_length=255)))
    ids = add_rows(session, key, *({"v": v} for v in raw))
    new_field = _TARGETS[target]
    probe = FieldDef("v", new_field["type"], new_field["label"],
                     max_length=new_field.get("max_length"),
                     decimals=new_field.get("decimals"))
    expected: dict[int, Any] = {}
    rejected = []
    for row_id, value in zip(ids, raw, strict=True):
        if is_empty(value):
            expected[row_id] = None
            continue
        try:
            expected[row_id] = coerce_value(probe, value)
        except FieldValueError:
            rejected.append(value)
    target_doc = doc(key, new_field)
    event(f"{target}: {'refused' if rejected else 'accepted'}")
    if rejected:
        exc = refused(session, target_doc, confirm=True)
        listed = {s["value"] for s in op_report(exc, exc.plan.operations[0].operation.kind)
                  ["samples"]}
        assert listed == set(rejected)
        assert values(session, key, "v") == dict(zip(ids, raw, strict=True))  # untouched
    else:
        assert publish(session, target_doc, confirm=True).applied
        stored = values(session, key, "v")
        assert stored == expected
        for row_id, value in stored.items():
            assert type(value) is type(expected[row_id])
