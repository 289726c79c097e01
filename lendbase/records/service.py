"""Create, read, update, delete and list records of any published form.

One service for the API and the pages: validation (every failing field at once), permissions
(actions, row scope, field read/write, unmask), optimistic concurrency and the audit trail. It
takes a Session and an Actor and never commits; the request or job boundary owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lendbase.events import EventType, emit
from lendbase.events.model import record_event
from lendbase.forms.compile import CompiledForm, CompiledSchema
from lendbase.forms.guards import check_guards
from lendbase.forms.messages import message
from lendbase.forms.model import FieldDef
from lendbase.forms.naming import hash_column_for
from lendbase.records import query as q
from lendbase.records.audit import (
    changed_fields,
    jsonable,
    log_access,
    record_history,
    write_audit,
)
from lendbase.records.autonumber import next_number
from lendbase.records.codec import RecordCodec
from lendbase.records.files import referencing_records
from lendbase.records.lifecycle import plan_stage_move, record_stage_move
from lendbase.records.permissions import Actor, FormAccess, access_for, scope_clause
from lendbase.records.validator import validate_record
from lendbase.security import FieldCipher

#: The largest id a column can hold (64-bit signed); larger ones never reach the database.
MAX_ID = 9223372036854775807


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: Any) -> Any:
    """SQLite returns naive datetimes; everything is stored in UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


class RecordService:
    def __init__(self, session: Session, schema: CompiledSchema, actor: Actor,
                 cipher: FieldCipher, clock: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.schema = schema
        self.actor = actor
        self.cipher = cipher
        self.clock = clock

    # --- helpers ---------------------------------------------------------------------------
    def compiled(self, form_key: str) -> CompiledForm:
        try:
            return self.schema[form_key]
        except KeyError:
            raise NotFound(f"no published form {form_key!r}") from None

    def access(self, form_key: str) -> FormAccess:
        return access_for(self.actor, self.compiled(form_key).form)

    def _codec(self, cf: CompiledForm, subtable: str | None = None) -> RecordCodec:
        return RecordCodec(cf.form, self.cipher, subtable)

    def _load_row(self, cf: CompiledForm, access: FormAccess, record_id: int) -> Mapping:
        row = self.session.execute(
            select(cf.table).where(cf.table.c.id == record_id,
                                   scope_clause(self.actor, access, cf.table))
        ).mappings().first()
        if row is None:  # absent and out of scope look the same: 404, never the data
            raise NotFound(f"{cf.form.key} record {record_id} not found")
        return row

    def _children(self, cf: CompiledForm, record_id: int,
                  unmasked: bool = False) -> dict[str, list[dict[str, Any]]]:
        result: dict[str, list[dict[str, Any]]] = {}
        for sub in cf.form.subtables:
            table = cf.child_tables[sub.key]
            rows = self.session.execute(
                select(table).where(table.c.parent_id == record_id).order_by(table.c.seq)
            ).mappings().all()
            codec = self._codec(cf, sub.key)
            result[sub.key] = [{"id": r["id"], **codec.decode(sub.fields, r, unmasked)}
                               for r in rows]
        return result

    def _present(self, cf: CompiledForm, access: FormAccess, row: Mapping,
                 children: Mapping[str, list] | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": row["id"], "version": row["version"], "owner_id": row["owner_id"],
            "created_at": _as_utc(row["created_at"]), "created_by": row["created_by"],
            "updated_at": _as_utc(row["updated_at"]), "updated_by": row["updated_by"],
        }
        values = self._codec(cf).decode(cf.form.fields, row)
        for f in cf.form.fields:
            if f.key in access.hidden_fields:
                continue
            if f.stored:
                record[f.key] = _as_utc(values.get(f.key)) if f.type == "datetime" \
                    else values.get(f.key)
            elif f.type == "subtable" and children is not None:
                record[f.key] = children.get(f.key, [])
        return record

    def _plain_values(self, cf: CompiledForm, row: Mapping) -> dict[str, Any]:
        codec = self._codec(cf)
        return {f.key: codec.plain(f, row[f.key]) for f in cf.form.stored_fields}

    def _masked_value(self, cf: CompiledForm, key: str, value: Any) -> Any:
        """A value as the audit trail keeps it: sensitive values masked, in sub-table rows
        too (each cell with its sub-table's own codec)."""
        f = cf.form.field(key)
        if f.type != "subtable":
            return self._codec(cf).masked(f, value)
        if not isinstance(value, list):
            return value
        codec = self._codec(cf, f.key)
        by_key = {sf.key: sf for sf in f.fields}
        return [{k: codec.masked(by_key[k], v) if k in by_key else v for k, v in row.items()}
                if isinstance(row, Mapping) else row for row in value]

    def _masked_values(self, cf: CompiledForm, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._masked_value(cf, k, v) for k, v in values.items()}

    def _check_writable(self, cf: CompiledForm, access: FormAccess, data: Mapping[str, Any],
                        creating: bool) -> None:
        lang = self.actor.lang
        errors: dict[str, list[str]] = {}
        for key in data:
            if not cf.form.has_field(key):
                continue
            f = cf.form.field(key)
            # A role's read-only fields are read-only on create too: an account manager may
            # not create an application that is already approved.
            blocked = (key in access.hidden_fields or key in access.readonly_fields
                       or (f.readonly and not self.actor.superuser))
            if blocked:
                errors[key] = [message("readonly", lang)]
        if errors:
            raise ValidationFailed(errors)

    def _check_links(self, cf: CompiledForm, values: Mapping[str, Any],
                     fields: tuple[FieldDef, ...], errors: dict[str, list[str]],
                     prefix: str = "", record_id: int | None = None) -> None:
        """References must point at records that exist and that the actor may see; a file
        must be one the actor uploaded (or already on this record) and on no other record."""
        for f in fields:
            value = values.get(f.key)
            if value is None or f.type not in {"reference", "user", "file"}:
                continue
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 1 <= value <= MAX_ID:  # never bind an id SQLite cannot hold
                errors.setdefault(prefix + f.key, []).append(
                    message("no_such_record", self.actor.lang, value=value,
                            target=f.target if f.type == "reference" else f.type))
                continue
            if f.type == "file":
                if not self._file_attachable(cf, f, value, record_id):
                    errors.setdefault(prefix + f.key, []).append(
                        message("no_such_record", self.actor.lang, value=value, target="file"))
                continue
            if f.type == "reference":
                target = self.compiled(f.target or "")
                target_access = access_for(self.actor, target.form)
                query = select(target.table.c.id).where(
                    target.table.c.id == value,
                    scope_clause(self.actor, target_access, target.table))
                label = target.form.key
            else:
                query = select(db.user.c.id).where(db.user.c.id == value)
                label = "user"
            if self.session.execute(query).first() is None:
                errors.setdefault(prefix + f.key, []).append(
                    message("no_such_record", self.actor.lang, value=value, target=label))

    def _file_attachable(self, cf: CompiledForm, f: FieldDef, file_id: int,
                         record_id: int | None) -> bool:
        """A file uploaded for this form and field (not borrowed from elsewhere), by this
        actor or already on this record, and held by no other record."""
        row = self.session.execute(
            select(db.stored_file.c.uploaded_by).where(
                db.stored_file.c.id == file_id, db.stored_file.c.form_key == cf.form.key,
                db.stored_file.c.field_key == f.key)).first()
        if row is None:
            return False
        if self.actor.superuser and self.actor.user_id is None:
            return True  # the system actor (seeding, imports) may share a stored file
        holders = referencing_records(self.session, cf, f.key, file_id)
        if holders - ({record_id} if record_id is not None else set()):
            return False  # attached to another record: never shared or moved this way
        if record_id is not None and record_id in holders:
            return True
        return row.uploaded_by is not None and row.uploaded_by == self.actor.user_id

    def _check_unique(self, cf: CompiledForm, values: Mapping[str, Any],
                      record_id: int | None, errors: dict[str, list[str]]) -> None:
        codec = self._codec(cf)
        for f in cf.form.stored_fields:
            if not f.unique or values.get(f.key) is None:
                continue
            value = values[f.key]
            if f.sensitive:
                clause = cf.table.c[hash_column_for(f.key)] == codec.lookup_hash(f, str(value))
            else:
                clause = cf.table.c[f.key] == value
            if record_id is not None:
                clause = and_(clause, cf.table.c.id != record_id)
            if self.session.execute(select(exists().where(clause))).scalar():
                shown = codec.masked(f, value)
                errors.setdefault(f.key, []).append(
                    message("unique", self.actor.lang, value=shown))

    def _write_children(self, cf: CompiledForm, record_id: int,
                        rows_by_sub: Mapping[str, list[dict[str, Any]]],
                        creating: bool = False) -> None:
        """Replace the sub-table rows of a record (keeping the ids of rows sent back)."""
        for sub in cf.form.subtables:
            if sub.key not in rows_by_sub:
                continue
            codec = self._codec(cf, sub.key)
            table = cf.child_tables[sub.key]
            own_ids: set[int] = set()
            if not creating:
                own_ids = set(self.session.execute(
                    select(table.c.id).where(table.c.parent_id == record_id)).scalars())
                self.session.execute(delete(table).where(table.c.parent_id == record_id))
            new_rows, kept_rows = [], []
            for seq, row in enumerate(rows_by_sub[sub.key], start=1):
                stored = {"parent_id": record_id, "seq": seq,
                          **codec.encode(sub.fields, {f.key: row.get(f.key)
                                                      for f in sub.fields if f.stored})}
                if row.get("id") is None:
                    new_rows.append(stored)
                    continue
                try:
                    child_id = int(row["id"])
                except (TypeError, ValueError):
                    child_id = 0
                if child_id not in own_ids:
                    raise ValidationFailed({f"{sub.key}.{seq - 1}.id": [
                        "this row does not belong to the record; remove its id"]})
                kept_rows.append({"id": child_id, **stored})
            # executemany needs one key set per statement: kept rows carry their id
            for batch in (kept_rows, new_rows):
                if batch:
                    self.session.execute(insert(table), batch)

    def _execute_guarded(self, statement: Any, form_key: str,
                         params: Mapping[str, Any] | None = None) -> Any:
        """Run a write in a savepoint so that a constraint violation leaves the transaction
        usable and becomes a clear 409 instead of a 500. Returns the RETURNING value if the
        statement has one, else the row count."""
        try:
            with self.session.begin_nested():
                result = cast(CursorResult[Any], self.session.execute(statement, params))
                return result.scalar_one() if result.returns_rows else result.rowcount
        except IntegrityError as exc:
            detail = str(exc.orig).splitlines()[0] if exc.orig else "constraint violated"
            raise Conflict(f"the change to {form_key} conflicts with existing data: {detail}"
                           ) from None

    # --- commands --------------------------------------------------------------------------
    def create(self, form_key: str, data: Mapping[str, Any],
               owner_id: int | None = None) -> dict[str, Any]:
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("create", cf.form, self.actor.lang)
        self._check_writable(cf, access, data, creating=True)
        values = validate_record(cf.form, data, self.actor.lang)
        errors: dict[str, list[str]] = {}
        self._check_links(cf, values, cf.form.fields, errors)
        for sub in cf.form.subtables:
            for i, row in enumerate(values.get(sub.key, [])):
                self._check_links(cf, row, sub.fields, errors, prefix=f"{sub.key}.{i}.")
        self._check_unique(cf, values, None, errors)
        check_guards(self.session, self.schema, cf, values, errors, cipher=self.cipher,
                     now=self.clock(), lang=self.actor.lang)
        move = plan_stage_move(cf, self.actor, None, values, errors)  # fills the initial stage
        if errors:
            raise ValidationFailed(errors)
        now = self.clock()
        for f in cf.form.stored_fields:
            if f.type == "auto_number":
                values[f.key] = next_number(self.session, form_key, f.key, f.format or "{SEQ:6}",
                                            now)
        if owner_id is not None and not self.actor.superuser:
            raise PermissionDenied("only an administrator can assign a record to another owner")
        row = {
            "created_at": now, "updated_at": now, "created_by": self.actor.user_id,
            "updated_by": self.actor.user_id, "version": 1,
            "owner_id": owner_id if owner_id is not None else self.actor.user_id,
            **self._codec(cf).encode(cf.form.stored_fields, values),
        }
        # values as parameters, not baked into the statement, so its compiled form is cached
        record_id = self._execute_guarded(insert(cf.table).returning(cf.table.c.id), form_key,
                                          row)
        self._write_children(cf, record_id, {s.key: values.get(s.key, [])
                                             for s in cf.form.subtables}, creating=True)
        shown = self._masked_values(cf, values)
        created = changed_fields({}, shown)
        write_audit(self.session, form_key=form_key, record_id=record_id, action="create",
                    record_version=1, actor_id=self.actor.user_id, at=now,
                    changes=created)
        emit(self.session, record_event(
            EventType.RECORD_CREATED, form_key, record_id, created, actor_id=self.actor.user_id,
            at=now, omit_values=tuple(s.key for s in cf.form.subtables)))
        if move is not None:
            record_stage_move(self.session, form_key, record_id, move, at=now,
                              actor_id=self.actor.user_id)
        return self.get(form_key, record_id)

    def get(self, form_key: str, record_id: int) -> dict[str, Any]:
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("read", cf.form, self.actor.lang)
        row = self._load_row(cf, access, record_id)
        return self._present(cf, access, row, self._children(cf, record_id))

    def update(self, form_key: str, record_id: int, data: Mapping[str, Any],
               expected_version: int | None = None) -> dict[str, Any]:
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("update", cf.form, self.actor.lang)
        row = self._load_row(cf, access, record_id)
        if expected_version is not None and expected_version != row["version"]:
            raise Conflict(
                f"{form_key} record {record_id} was changed by someone else (now version "
                f"{row['version']}, you edited version {expected_version}); reload it and "
                "apply your change again")
        codec = self._codec(cf)
        before = self._plain_values(cf, row)
        data = {
            k: v for k, v in data.items()
            # A sensitive field sent back in its masked form means "unchanged".
            if not (cf.form.has_field(k) and cf.form.field(k).sensitive
                    and v == codec.masked(cf.form.field(k), before.get(k)))
        }
        data = self._unmask_unchanged_cells(cf, record_id, data)
        self._check_writable(cf, access, data, creating=False)
        values = validate_record(cf.form, data, self.actor.lang, existing=before)
        errors: dict[str, list[str]] = {}
        self._check_links(cf, values, cf.form.fields, errors, record_id=record_id)
        for sub in cf.form.subtables:
            for i, sub_row in enumerate(values.get(sub.key) or []):
                self._check_links(cf, sub_row, sub.fields, errors, prefix=f"{sub.key}.{i}.",
                                  record_id=record_id)
        self._check_unique(cf, values, record_id, errors)
        check_guards(self.session, self.schema, cf, values, errors, cipher=self.cipher,
                     now=self.clock(), lang=self.actor.lang, before=before, record_id=record_id)
        move = plan_stage_move(cf, self.actor, before, values, errors)
        if errors:
            raise ValidationFailed(errors)
        scalar_values = {k: v for k, v in values.items() if cf.form.field(k).stored}
        changes = changed_fields(before, scalar_values)
        children = {s.key: values[s.key] for s in cf.form.subtables if s.key in values}
        if children:
            # plaintext against plaintext: a sub-table sent back unchanged is no change
            old_children = self._children(cf, record_id, unmasked=True)
            for key, rows in children.items():
                sub = cf.form.field(key)
                stored_keys = [f.key for f in sub.fields if f.stored]
                old_rows = [{k: r.get(k) for k in stored_keys} for r in old_children[key]]
                new_rows = [{k: r.get(k) for k in stored_keys} for r in rows]
                changes.update(changed_fields({key: old_rows}, {key: new_rows}))
        if not changes:
            return self.get(form_key, record_id)
        now = self.clock()
        new_version = row["version"] + 1
        count = self._execute_guarded(
            update(cf.table)
            .where(cf.table.c.id == record_id, cf.table.c.version == row["version"])
            .values(updated_at=now, updated_by=self.actor.user_id, version=new_version,
                    **codec.encode(cf.form.stored_fields, scalar_values)),
            form_key)
        if count != 1:
            raise Conflict(f"{form_key} record {record_id} was changed by someone else "
                           "meanwhile; reload it and apply your change again")
        self._write_children(cf, record_id, children)
        masked_changes = {k: [self._masked_value(cf, k, v[0]), self._masked_value(cf, k, v[1])]
                          for k, v in changes.items()}
        write_audit(self.session, form_key=form_key, record_id=record_id, action="update",
                    record_version=new_version, actor_id=self.actor.user_id, at=now,
                    changes=masked_changes)
        emit(self.session, record_event(
            EventType.RECORD_UPDATED, form_key, record_id, masked_changes,
            actor_id=self.actor.user_id, at=now,
            omit_values=tuple(s.key for s in cf.form.subtables)))
        if move is not None:
            record_stage_move(self.session, form_key, record_id, move, at=now,
                              actor_id=self.actor.user_id)
        return self.get(form_key, record_id)

    def _unmask_unchanged_cells(self, cf: CompiledForm, record_id: int,
                                data: Mapping[str, Any]) -> dict[str, Any]:
        """Sub-table rows sent back with their id and a sensitive cell still masked keep the
        stored value, as top-level sensitive fields do."""
        subs = [s for s in cf.form.subtables
                if isinstance(data.get(s.key), list) and any(f.sensitive for f in s.fields)]
        if not subs:
            return dict(data)
        stored = self._children(cf, record_id, unmasked=True)
        codec = self._codec(cf)
        result = dict(data)
        for sub in subs:
            by_id = {str(r["id"]): r for r in stored.get(sub.key, [])}
            rows = []
            for row in data[sub.key]:
                old = by_id.get(str(row.get("id"))) if isinstance(row, Mapping) else None
                if old is not None:
                    row = {k: (old[k] if _is_masked_copy(codec, sub, k, v, old) else v)
                           for k, v in row.items()}
                rows.append(row)
            result[sub.key] = rows
        return result

    def delete(self, form_key: str, record_id: int, expected_version: int | None = None) -> None:
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("delete", cf.form, self.actor.lang)
        row = self._load_row(cf, access, record_id)
        if expected_version is not None and expected_version != row["version"]:
            raise Conflict(f"{form_key} record {record_id} was changed by someone else (now "
                           f"version {row['version']}); reload it before deleting")
        snapshot = self._present(cf, FormAccess(frozenset(), "all", frozenset(), frozenset(),
                                                False), row, self._children(cf, record_id))
        count = self._execute_guarded(
            delete(cf.table).where(cf.table.c.id == record_id,
                                   cf.table.c.version == row["version"]), form_key)
        if count != 1:
            raise Conflict(f"{form_key} record {record_id} was changed meanwhile; reload it")
        now = self.clock()
        removed = {k: [v, None] for k, v in jsonable(snapshot).items()}
        write_audit(self.session, form_key=form_key, record_id=record_id, action="delete",
                    record_version=row["version"], actor_id=self.actor.user_id,
                    at=now, changes=removed)
        emit(self.session, record_event(
            EventType.RECORD_DELETED, form_key, record_id, removed,
            actor_id=self.actor.user_id, at=now,
            omit_values=tuple(s.key for s in cf.form.subtables)))

    # --- queries ---------------------------------------------------------------------------
    def _list_query(self, cf: CompiledForm, access: FormAccess,
                    where: Mapping[str, Any] | None, search: str | None,
                    order_by: list[str] | None) -> tuple[list[q.SortKey], list[Any]]:
        """The sort keys and WHERE conditions of a list: row scope, filters, search."""
        # fields hidden from the actor's roles can be neither sorted, filtered nor searched on:
        # the order or the matches would reveal their values
        hidden = access.hidden_fields
        keys = q.parse_sort(cf.form, order_by, hidden_fields=hidden)
        conditions: list[Any] = [scope_clause(self.actor, access, cf.table)]
        clause = q.filter_clause(cf.form, cf.table, where, hidden_fields=hidden,
                                 now=self.clock())
        if clause is not None:
            conditions.append(clause)
        if search and search.strip():
            codec = self._codec(cf)
            conditions.append(q.search_clause(cf.form, cf.table, search, codec.lookup_hash,
                                              hidden_fields=hidden))
        return keys, conditions

    def list_page(self, form_key: str, *, where: Mapping[str, Any] | None = None,
                  search: str | None = None, order_by: list[str] | None = None,
                  after: str | None = None, limit: int = 50) -> Page:
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("read", cf.form, self.actor.lang)
        if not 1 <= limit <= q.MAX_LIMIT:
            raise ValidationFailed({"limit": [f"must be between 1 and {q.MAX_LIMIT}"]})
        keys, conditions = self._list_query(cf, access, where, search, order_by)
        rows = self.session.execute(
            q.page_query(cf.table, keys, conditions, after, limit)).mappings().all()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [self._present(cf, access, r) for r in rows]
        cursor = q.encode_cursor(rows[-1], keys) if more and rows else None
        return Page(items, cursor)

    def iter_chunks(self, form_key: str, *, where: Mapping[str, Any] | None = None,
                    search: str | None = None, order_by: list[str] | None = None,
                    chunk: int = 1000, archived: bool = False
                    ) -> Iterator[list[dict[str, Any]]]:
        """Every record the list would show (same right, row scope, filters, search and
        order), in chunks of at most ``chunk`` records presented as ``get`` presents them
        (sensitive values masked, hidden fields left out, no sub-table rows).

        It walks keyset pages, so memory holds one chunk however many records match. With
        ``archived`` each record also carries the (masked) values of the form's archived
        fields. Arguments are checked now; the rows are read as the iterator is consumed.
        """
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("read", cf.form, self.actor.lang)
        if chunk < 1:
            raise ValidationFailed({"chunk": ["must be at least 1"]})
        keys, conditions = self._list_query(cf, access, where, search, order_by)
        return self._walk(cf, access, keys, conditions, chunk, archived)

    def _walk(self, cf: CompiledForm, access: FormAccess, keys: list[q.SortKey],
              conditions: list[Any], chunk: int,
              archived: bool) -> Iterator[list[dict[str, Any]]]:
        after: str | None = None
        while True:
            rows = self.session.execute(
                q.page_query(cf.table, keys, conditions, after, chunk)).mappings().all()
            more = len(rows) > chunk
            rows = rows[:chunk]
            if rows:
                items = [self._present(cf, access, r) for r in rows]
                if archived and cf.archived:
                    for item, row in zip(items, rows, strict=True):
                        item.update(self._archived_values(cf, row))
                yield items
            if not more:
                return
            after = q.encode_cursor(rows[-1], keys)

    def _archived_values(self, cf: CompiledForm, row: Mapping) -> dict[str, Any]:
        values = self._codec(cf).decode(cf.archived, row)
        return {f.key: _as_utc(values[f.key]) if f.type == "datetime" else values[f.key]
                for f in cf.archived if f.key in values}

    def history(self, form_key: str, record_id: int) -> list[dict[str, Any]]:
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("read", cf.form, self.actor.lang)
        self._load_row(cf, access, record_id)
        hidden = access.hidden_fields
        entries = record_history(self.session, form_key, record_id)
        for entry in entries:
            entry["changes"] = {k: v for k, v in entry["changes"].items() if k not in hidden}
        return entries

    def unmask(self, form_key: str, record_id: int, field_key: str, reason: str) -> Any:
        """The plaintext of a sensitive field, for an actor with the unmask right; logged."""
        cf = self.compiled(form_key)
        access = self.access(form_key)
        access.require("read", cf.form, self.actor.lang)
        if not cf.form.has_field(field_key) or not cf.form.field(field_key).sensitive:
            raise NotFound(f"{form_key} has no sensitive field {field_key!r}")
        if not access.unmask or field_key in access.hidden_fields:
            raise PermissionDenied("you may not see unmasked values of this field; "
                                   "ask an administrator for the unmask right")
        if not reason or len(reason.strip()) < 4:
            raise ValidationFailed({"reason": [
                "state why you need the full value (at least 4 characters)"]})
        row = self._load_row(cf, access, record_id)
        log_access(self.session, actor_id=self.actor.user_id or 0, at=self.clock(),
                   action="unmask", form_key=form_key, record_id=record_id,
                   field_key=field_key, reason=reason.strip())
        return self._codec(cf).plain(cf.form.field(field_key), row[field_key])




def _is_masked_copy(codec: RecordCodec, sub: FieldDef, key: str, value: Any,
                    stored_row: Mapping[str, Any]) -> bool:
    f = next((f for f in sub.fields if f.key == key), None)
    return (f is not None and f.sensitive and stored_row.get(key) is not None
            and value == codec.masked(f, stored_row[key]))
