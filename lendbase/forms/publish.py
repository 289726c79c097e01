"""Publishing a form: validate the draft, plan the schema change, dry-run it, then apply it.

``publish_form`` is the one path from a form draft to a published version with its tables; the
API's ``POST /api/v1/meta/forms/<key>/publish`` (``?dry_run=1``) and app installs call it.
``load_compiled_schema`` compiles what is published now, archived fields included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import MetadataError, MigrationRefused
from lendbase.forms.compile import CompiledSchema, compile_schema
from lendbase.forms.migration.apply import apply_plan
from lendbase.forms.migration.archive import (
    attach_archived,
    field_to_doc,
    fields_from_docs,
    stored_archived,
)
from lendbase.forms.migration.inspect import PlanReport, inspect_plan
from lendbase.forms.migration.plan import MigrationPlan, plan_migration
from lendbase.forms.model import FieldDef, FormDef, check_form, load_form
from lendbase.meta.store import MetadataStore, Version, checksum_of

KIND = "forms"


@dataclass(frozen=True)
class PublishResult:
    key: str
    report: PlanReport
    #: the published version (the existing one when nothing changed); None for a dry run
    version: Version | None = None
    applied: bool = False
    dry_run: bool = False
    #: the draft equals the latest published version: nothing was done
    unchanged: bool = False
    #: declared indexes not created (e.g. trigram indexes without the pg_trgm extension)
    skipped_indexes: tuple[str, ...] = ()

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version.version if self.version else None,
            "checksum": self.version.checksum if self.version else None,
            "applied": self.applied,
            "dry_run": self.dry_run,
            "unchanged": self.unchanged,
            "skipped_indexes": list(self.skipped_indexes),
            "plan": self.report.to_dict(lang),
        }


def read_archived(session: Session) -> dict[str, tuple[FieldDef, ...]]:
    """Archived fields of every form, from ``lb_form_schema``."""
    rows = session.execute(select(db.form_schema.c.form_key, db.form_schema.c.archived)).all()
    return {key: fields_from_docs(archived or []) for key, archived in rows}


def _compile(entries: list[tuple[FormDef, tuple[FieldDef, ...], str, int]]) -> CompiledSchema:
    schema = compile_schema((form, stored_archived(arch), checksum, version)
                            for form, arch, checksum, version in entries)
    known = [form.key for form, *_ in entries]
    for form, arch, *_ in entries:
        attach_archived(schema.forms[form.key], arch, known)
    return schema


def _published_entries(session: Session
                       ) -> list[tuple[FormDef, tuple[FieldDef, ...], str, int]]:
    archived = read_archived(session)
    return [(load_form(v.doc), archived.get(v.key, ()), v.checksum, v.version)
            for v in MetadataStore(session, None).all_published(KIND)]


def load_compiled_schema(session: Session) -> CompiledSchema:
    """Every latest published form compiled into one MetaData, with its archived columns.

    Archived top-level fields are columns of the form's table (``CompiledForm.archived``);
    archived sub-table columns are appended to the live child table, and the child tables of
    archived sub-tables are in ``schema.metadata.tables`` (``archived_child_table``).
    """
    return _compile(_published_entries(session))


def _check_targets(doc: Mapping[str, Any], key: str, published: set[str]) -> None:
    """Reference targets must be published forms (or the form itself)."""
    errors: dict[str, list[str]] = {}

    def check(fields: Any, ptr: str) -> None:
        for i, f in enumerate(fields):
            if f.get("type") == "reference" and f.get("target") not in published | {key}:
                errors.setdefault(f"{ptr}/{i}/target", []).append(
                    f"form '{f.get('target')}' is not published; publish it first or pick a "
                    "published form")
            if f.get("type") == "subtable":
                check(f.get("fields", ()), f"{ptr}/{i}/fields")

    check(doc.get("fields", ()), "/fields")
    if errors:
        raise MetadataError(f"the form refers to {len(errors)} unpublished form(s)", errors)


def _save_archived(session: Session, store: MetadataStore, key: str,
                   archived: tuple[FieldDef, ...]) -> None:
    docs = [field_to_doc(f) for f in archived]
    now = store.clock()
    found = session.execute(select(db.form_schema.c.form_key)
                            .where(db.form_schema.c.form_key == key)).first()
    if found:
        session.execute(update(db.form_schema).where(db.form_schema.c.form_key == key)
                        .values(archived=docs, updated_at=now))
    else:
        session.execute(insert(db.form_schema).values(form_key=key, archived=docs,
                                                      updated_at=now))


def _refusal(key: str, report: PlanReport, confirm: bool,
             lang: str = "en") -> MigrationRefused | None:
    """Why the publish cannot go ahead, in ``lang`` (the caller's UI language), or None."""
    if report.plan.refused or report.blocking:
        problems = " | ".join(report.problems(lang))
        message = (f"发布表单“{key}”被拒绝，未做任何更改：{problems}" if lang == "zh" else
                   f"publishing form '{key}' was refused and nothing was changed: {problems}")
        return MigrationRefused(message, plan=report, lang=lang)
    if report.needs_confirmation and not confirm:
        risky = [op.describe(lang) for op in report.plan.operations if op.risk == "confirm"]
        if lang == "zh":
            message = (f"发布表单“{key}”有 {len(risky)} 项操作需要确认：" + "；".join(risky)
                       + "。请先查看计划（dry_run=1），确认后以 confirm=1 重新发布")
        else:
            message = (f"publishing form '{key}' needs confirmation for {len(risky)} "
                       "operation(s): " + "; ".join(risky) + ". Review the plan (dry_run=1) "
                       "and publish again with confirm=1")
        return MigrationRefused(message, plan=report, lang=lang)
    return None


def publish_form(session: Session, actor_id: int | None, key: str, *, dry_run: bool = False,
                 confirm: bool = False, backfill: Mapping[str, Any] | None = None,
                 note: str | None = None, lang: str = "en") -> PublishResult:
    """Publish the draft of form ``key`` (or, with ``dry_run``, only report what would happen).

    Raises ``MetadataError`` (invalid draft, unpublished reference target, invalid backfill)
    and ``MigrationRefused`` (risky operations not confirmed, values that would not convert,
    refused changes); ``MigrationRefused.plan`` is the ``PlanReport`` and its message is in
    ``lang`` ("en" or "zh"). Never commits.
    """
    store = MetadataStore(session, actor_id)
    draft = store.get_draft(KIND, key)
    new_form = check_form(draft.doc)
    latest = store.published(KIND, key)
    if latest is not None and latest.doc == draft.doc:
        empty = PlanReport(MigrationPlan(key, ()), ())
        return PublishResult(key, empty, latest, dry_run=dry_run, unchanged=True)
    entries = _published_entries(session)
    _check_targets(draft.doc, key, {form.key for form, *_ in entries})
    old_entry = next((e for e in entries if e[0].key == key), None)
    old_archived = old_entry[1] if old_entry else ()
    plan = plan_migration(old_entry[0] if old_entry else None, new_form, old_archived)
    old_schema = _compile(entries)
    number = (latest.version if latest else 0) + 1
    new_entries = [e for e in entries if e[0].key != key]
    new_entries.append((new_form, plan.archived, checksum_of(draft.doc), number))
    new_schema = _compile(new_entries)
    old_compiled = old_schema.forms.get(key)
    report = inspect_plan(session, old_compiled, plan, backfill)
    if dry_run:
        return PublishResult(key, report, dry_run=True)
    refusal = _refusal(key, report, confirm, lang)
    if refusal is not None:
        raise refusal
    # Written before the DDL: the first write opens the SQLite transaction (see apply.py).
    _save_archived(session, store, key, plan.archived)
    applied = apply_plan(session, plan, old_compiled, new_schema.forms[key], backfill)
    version = store.record_version(KIND, key, draft.doc, note)
    return PublishResult(key, report, version, applied=True,
                         skipped_indexes=applied.skipped_indexes)


__all__ = ["PublishResult", "load_compiled_schema", "publish_form", "read_archived"]
