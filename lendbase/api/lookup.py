"""Record lookup for reference pickers: ``GET /api/v1/records/<form>/lookup?q=&limit=&after=``.

A picker asks as the user types, so one answer must stay cheap however big the target form is:

* **No count.** A page reads ``limit + 1`` rows to know whether another follows; the cursor
  carries the last row's (title, id), the keyset ``RecordService.list_page`` uses.
* **Index-friendly predicates.** ``q`` matches when the title *starts with* it or when any
  searchable field *contains* it (``query.search_clause``, which also matches auto numbers and
  indexed sensitive fields exactly, by keyed hash). The prefix test is a range,
  ``title >= q AND title < q'`` (``q'`` = ``q`` with its last character incremented), so a
  B-tree on ``(title, id)`` (an ``indexed`` title, or one the list sorts by default) serves it
  and the ``ORDER BY title, id`` too, instead of a scan; a ``LIKE 'q%'`` beside it keeps the
  answer exact under a linguistic collation. On PostgreSQL every searchable field carries a
  trigram GIN index (``forms.compile``), so the ``ILIKE '%q%'`` parts become bitmap index
  scans OR-ed together: a million-row form costs the matching rows, not the table. Queries of
  one or two characters give pg_trgm no trigram inside the text (a title prefix still has
  its padded word-start trigram), so pickers send a search only once something is typed and
  show the first page, not everything that matched.
* **Row scope always applies** (``scope_clause``): a record the caller may not read never
  appears, exactly as in the lists.

Each item is ``{id, title, subtitle}``: the title field (``#id`` when the form has none, or
when it is sensitive or hidden from the caller) and a short subtitle made of the auto number
and the other searchable fields, skipping sensitive and hidden ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, and_, or_

from lendbase.api.auth import api_actor
from lendbase.app import parse_id
from lendbase.errors import ValidationFailed
from lendbase.forms.model import FieldDef, FormDef
from lendbase.records import query as q
from lendbase.records.codec import RecordCodec
from lendbase.records.permissions import FormAccess, scope_clause
from lendbase.records.service import RecordService
from lendbase.web.context import record_service

blp = Blueprint("lookup", __name__, url_prefix="/api/v1/records",
                description="Record lookup for reference pickers")

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
_SUBTITLE_PARTS = 2


class LookupArgs(Schema):
    q = fields.String(load_default="", metadata={
        "description": "text the title starts with or a searchable field contains"})
    after = fields.String(metadata={"description": "cursor from the previous page"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT))


class LookupItem(Schema):
    id = fields.Integer()
    title = fields.String()
    subtitle = fields.String()


class LookupPage(Schema):
    items = fields.List(fields.Nested(LookupItem))
    next_cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


def title_field(form: FormDef, access: FormAccess) -> FieldDef | None:
    """The field records are titled by, if the caller may see and sort by it."""
    key = form.title_field
    if not key or not form.has_field(key) or key in access.hidden_fields:
        return None
    f = form.field(key)
    return None if f.sensitive or not f.stored or f.type == "multiselect" else f


def _subtitle_fields(form: FormDef, access: FormAccess,
                     title: FieldDef | None) -> list[FieldDef]:
    candidates = [f for f in form.stored_fields if f.type == "auto_number"]
    candidates += [f for f in form.searchable_fields if f.stored]
    chosen: list[FieldDef] = []
    for f in candidates:
        if (f in chosen or f is title or f.sensitive or f.key in access.hidden_fields):
            continue
        chosen.append(f)
    return chosen[:_SUBTITLE_PARTS]


def _successor(text: str) -> str | None:
    """The smallest string above every string starting with ``text`` (binary order)."""
    for i in range(len(text) - 1, -1, -1):
        code = ord(text[i])
        if code < 0x10FFFF:
            return text[:i] + chr(code + 1)
    return None


def prefix_clause(column: Any, term: str) -> ColumnElement[bool]:
    """``column`` starts with ``term``, as a range a B-tree can seek (see the module doc)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    parts = [column >= term, column.like(f"{escaped}%", escape="\\")]
    upper = _successor(term)
    if upper is not None:
        parts.insert(1, column < upper)
    return and_(*parts)


def _shown(f: FieldDef, value: Any, lang: str) -> str:
    if value is None:
        return ""
    if f.type == "select":
        return f.option_label(str(value), lang)
    return str(value)


def lookup_page(service: RecordService, form_key: str, text: str = "",
                after: str | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """One page of ``{id, title, subtitle}`` for the records of ``form_key`` matching ``text``
    that the service's actor may read, ordered by title then id."""
    cf = service.compiled(form_key)
    access = service.access(form_key)
    access.require("read", cf.form, service.actor.lang)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed({"limit": [f"must be between 1 and {MAX_LIMIT}"]})
    form, table = cf.form, cf.table
    title = title_field(form, access)
    keys = [q.SortKey(title.key, False)] if title else []
    keys.append(q.SortKey("id", False))
    conditions: list[Any] = [scope_clause(service.actor, access, table)]
    term = text.strip()
    if term:
        codec = RecordCodec(form, service.cipher)
        matches = [q.search_clause(form, table, term, codec.lookup_hash,
                                   hidden_fields=access.hidden_fields)]
        if title is not None:
            matches.insert(0, prefix_clause(table.c[title.key], term))
        record_id = parse_id(term)  # ASCII digits in the id range only, never "²" or 10**30
        if record_id is not None:  # "#42" is how an untitled record shows; let its id find it
            matches.append(table.c.id == record_id)
        conditions.append(or_(*matches))
    rows = service.session.execute(
        q.page_query(table, keys, conditions, after or None, limit)).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    subtitle_fields = _subtitle_fields(form, access, title)
    lang = service.actor.lang
    items = [_item(row, title, subtitle_fields, lang) for row in rows]
    cursor = q.encode_cursor(rows[-1], keys) if more and rows else None
    return {"items": items, "next_cursor": cursor, "has_more": cursor is not None}


def _item(row: Mapping[str, Any], title: FieldDef | None, subtitle_fields: list[FieldDef],
          lang: str) -> dict[str, Any]:
    value = row[title.key] if title is not None else None
    parts = [_shown(f, row[f.key], lang) for f in subtitle_fields]
    return {"id": row["id"],
            "title": str(value) if value not in (None, "") else f"#{row['id']}",
            "subtitle": " · ".join(p for p in parts if p)}


@blp.route("/<form>/lookup")
@blp.arguments(LookupArgs, location="query")
@blp.response(200, LookupPage)
def lookup_records(args: dict[str, Any], form: str) -> Any:
    """Records for a reference picker: title prefix or searchable-field match, in row scope,
    ordered by title then id, paged by cursor, never counted."""
    service = record_service(api_actor())
    return lookup_page(service, form, args.get("q", ""), args.get("after"), args["limit"])
