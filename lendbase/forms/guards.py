"""Form guards: record-level rules, set by a business admin in the form document, that refuse a
save (docs/forms.md, "Guards"). A collection guideline such as "no contact between 22:00 and
08:00 in the customer's local time, at most 6 unanswered calls per number and day" is two
guards, not code:

* ``quiet_hours``: a date-time field (the contact time) must not fall, in the record's local
  time zone, inside a window that may wrap midnight (``from`` 22:00 ``to`` 08:00; ``to`` is
  not part of it).
* ``daily_cap``: at most ``max`` records with the same values of the ``same`` fields on one
  local day (of ``date_field``) may match ``count_where``.

Both apply only to records for which ``when`` holds. A refusal is a field error, as validation
errors are, so the API answers 422 and the generated form shows it beside the field.

The module has three parts: the definitions (loaded from the published document), the checks
run when a form is published (``guard_errors``, part of the form's semantic checks) and the
check run by the record service inside the saving transaction (``check_guards``).
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import BigInteger, ColumnElement, MetaData, Table, and_, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from lendbase import db
from lendbase.conditions import (
    ConditionContext,
    ConditionSchema,
    FormScope,
    SqlRelatedRows,
    UnsupportedNode,
    compile_predicate,
    compile_sql,
)
from lendbase.conditions.predicate import referenced_fields
from lendbase.errors import CompileError, MetadataError
from lendbase.forms.compile import CompiledForm, CompiledSchema, compile_form
from lendbase.forms.messages import guard_message
from lendbase.forms.model import FormDef, load_form
from lendbase.forms.naming import hash_column_for
from lendbase.forms.values import DEFAULT_TZ, is_empty
from lendbase.security import FieldCipher, mask_value

GUARD_TYPES = ("quiet_hours", "daily_cap", "require")
_COMMON = frozenset({"key", "type", "message", "when"})
_OWN = {"quiet_hours": frozenset({"field", "from", "to", "timezone_field"}),
        "daily_cap": frozenset({"max", "date_field", "same", "count_where", "timezone_field"}),
        "require": frozenset({"field", "condition"})}
#: What a custom message may say, per guard type (``{time}`` -> "23:10").
PLACEHOLDERS = {"quiet_hours": ("field", "time", "zone", "from", "to"),
                "daily_cap": ("same", "value", "count", "max", "day", "zone"),
                "require": ("field",)}
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
#: Field types that can hold a time-zone name.
ZONE_TYPES = ("text", "select")
#: Field types a ``same`` list may not use: no single comparable value in the row.
_NOT_COMPARABLE = frozenset({"subtable", "computed", "multiselect"})
#: Where the parsed guards of a compiled form are kept: its table's ``info``, so they live and
#: die with the compiled schema (a publish compiles new tables).
_INFO_KEY = "lendbase.guards"
#: Condition nodes over related records, which a guard's condition may not use.
_RELATED = frozenset({"exists", "count", "sum", "min", "max"})
#: The clock conditions are bound with at publish (relative dates need one; any will do).
_CHECK_NOW = datetime(2000, 1, 1, tzinfo=UTC)


# --- definitions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    key: str
    field: str
    start: time
    end: time
    timezone_field: str | None = None
    message: Mapping[str, str] | None = None
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class DailyCap:
    key: str
    max: int
    date_field: str
    same: tuple[str, ...]
    count_where: Mapping[str, Any] | None = None
    timezone_field: str | None = None
    message: Mapping[str, str] | None = None
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Require:
    """The record is saved only when ``condition`` holds (it may read fields of referenced
    records: ``consent.purpose``); the refusal goes on ``field`` with ``message``."""

    key: str
    field: str
    condition: Mapping[str, Any]
    message: Mapping[str, str] | None = None
    when: Mapping[str, Any] | None = None


Guard = QuietHours | DailyCap | Require


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def load_guard(doc: Mapping[str, Any]) -> Guard:
    """A guard from its document (one that passed the form's checks)."""
    if doc["type"] == "require":
        return Require(doc["key"], doc["field"], doc["condition"], doc.get("message"),
                       doc.get("when"))
    if doc["type"] == "quiet_hours":
        return QuietHours(doc["key"], doc["field"], _hhmm(doc["from"]), _hhmm(doc["to"]),
                          doc.get("timezone_field"), doc.get("message"), doc.get("when"))
    return DailyCap(doc["key"], doc["max"], doc["date_field"], tuple(doc["same"]),
                    doc.get("count_where"), doc.get("timezone_field"), doc.get("message"),
                    doc.get("when"))


def load_guards(docs: Sequence[Mapping[str, Any]]) -> tuple[Guard, ...]:
    return tuple(load_guard(d) for d in docs)


def in_window(moment: time, start: time, end: time) -> bool:
    """Whether a local time of day is in [start, end); a window with end <= start wraps
    midnight (22:00-08:00 holds 23:10 and 07:59, not 08:00)."""
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: Any) -> tzinfo | None:
    """The IANA zone ``name`` names, or None (empty, not text, unknown)."""
    if not isinstance(name, str) or name.strip() not in _zone_names():
        return None
    return ZoneInfo(name.strip())


# --- checks at publish ------------------------------------------------------------------------


def _choices(top: Mapping[str, Mapping[str, Any]], types: Sequence[str]) -> str:
    return ", ".join(k for k, f in top.items() if f["type"] in types) or "none: add one"


def _need(top: Mapping[str, Mapping[str, Any]], key: str, types: Sequence[str],
          what: str) -> str | None:
    """Why ``key`` cannot be ``what`` (a field of one of ``types``), or None."""
    f = top.get(key)
    kinds = " or ".join(types)
    if f is None:
        return (f"'{key}' is not a field of this form; {what} is a {kinds} field: use one of: "
                f"{_choices(top, types)}")
    if f["type"] not in types:
        return (f"'{key}' is a {f['type']} field; {what} is a {kinds} field: use one of: "
                f"{_choices(top, types)}")
    return None


def _zone_field_problem(f: Mapping[str, Any]) -> str | None:
    name = f["key"]
    if f["type"] not in ZONE_TYPES:
        return (f"'{name}' is a {f['type']} field; the time zone is read from a text or select "
                "field holding an IANA name such as Asia/Shanghai")
    if f.get("sensitive"):
        return f"'{name}' is encrypted; keep the time zone in a field that is not sensitive"
    bad = [o["value"] for o in f.get("options", ()) if zone_named(o["value"]) is None]
    if bad:
        return (f"option(s) {', '.join(repr(v) for v in bad)} of '{name}' are not IANA time "
                "zone names; use names such as Asia/Shanghai or Europe/London")
    return None


def _timezone_errors(doc: Mapping[str, Any], spec: str, add: Callable[[str, str], None]) -> None:
    top = {f["key"]: f for f in doc["fields"]}
    local, _, remote = spec.partition(".")
    if remote:
        ref = top.get(local)
        if ref is None or ref["type"] != "reference":
            add("/timezone_field",
                f"'{local}' is not a reference field of this form; write a field of this form "
                "that holds the zone (e.g. timezone) or <reference field>.<field of its form> "
                f"(e.g. customer.timezone); reference fields: {_choices(top, ('reference',))}")
        elif ref["target"] == doc["key"]:
            target = top.get(remote)
            problem = (_zone_field_problem(target) if target is not None
                       else f"'{remote}' is not a field of this form")
            if problem:
                add("/timezone_field", problem)
        # a field of another form is checked against that form when the guard first runs
        return
    f = top.get(local)
    if f is None:
        add("/timezone_field", f"'{local}' is not a field of this form; name a text or select "
                               f"field holding the zone: {_choices(top, ZONE_TYPES)}")
        return
    problem = _zone_field_problem(f)
    if problem:
        add("/timezone_field", problem)


def _message_errors(g: Mapping[str, Any], add: Callable[[str, str], None]) -> None:
    allowed = PLACEHOLDERS[g["type"]]
    sample = dict.fromkeys(allowed, "x")
    for lang, text in (g.get("message") or {}).items():
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            unknown = sorted(names - set(allowed))
            if not unknown:
                text.format(**sample)
        except (ValueError, IndexError, KeyError, AttributeError):
            unknown = ["?"]
        if unknown:
            add(f"/message/{lang}",
                "the message may use only the placeholders "
                + ", ".join("{" + p + "}" for p in allowed)
                + " (write {{ and }} for literal braces); fix or remove "
                + ", ".join("{" + u + "}" if u != "?" else "the stray brace" for u in unknown))


def _reads_references(node: Any) -> bool:
    """Whether a condition reads a field of a referenced record (a dotted key)."""
    return any("." in key for key in referenced_fields(node)) if isinstance(node, Mapping) \
        else False


def _alone(doc: Mapping[str, Any]) -> tuple[FormDef, Table] | None:
    """The form and its table compiled on their own (no database), to bind conditions."""
    try:
        form = load_form(doc)
        targets = {f.target for f in form.fields if f.type == "reference" and f.target}
        compiled = compile_form(form, MetaData(), targets)
    except (CompileError, KeyError, TypeError, ValueError):
        return None  # the form's own errors are reported by the other checks
    return form, compiled.table


def _guard_context(form: FormDef, table: Table | None, *, now: datetime,
                   lookup_hash: Any = None) -> ConditionContext:
    """Guard conditions test the record being saved, its own fields only (no schema: related
    records are refused, in the same words at publish and at save)."""
    return ConditionContext(FormScope.for_form(form, table), now=now, lookup_hash=lookup_hash)


def _condition_problem(node: Any, context: ConditionContext, sql: bool) -> str | None:
    if not isinstance(node, Mapping):
        return "write the condition as an object, e.g. {\"field\": \"outcome\", \"op\": \"=\", " \
               "\"value\": \"no_answer\"}"
    related = sorted(_RELATED & set(node))
    if related:
        return (f"a guard's condition tests the fields of the record being saved, not related "
                f"records; remove \"{related[0]}\" (conditions on related records belong to "
                "rules and segments)")
    try:
        compile_predicate(node, context)
        if sql:
            compile_sql(node, context)
    except UnsupportedNode as exc:
        return exc.message
    except (KeyError, TypeError, IndexError, ValueError, ArithmeticError) as exc:
        return f"malformed condition: {exc}"
    return None


def _problem_at(node: Any, context: ConditionContext, sql: bool,
                ptr: str) -> tuple[str, str] | None:
    """(pointer, problem) of the deepest part of a condition that fails on its own, or None
    when the condition compiles."""
    problem = _condition_problem(node, context, sql)
    if problem is None or not isinstance(node, Mapping):
        return None if problem is None else (ptr, problem)
    parts = [(f"{ptr}/{group}/{i}", part) for group in ("and", "or")
             if isinstance(node.get(group), list) for i, part in enumerate(node[group])]
    if "not" in node:
        parts.append((f"{ptr}/not", node["not"]))
    for at, part in parts:
        found = _problem_at(part, context, sql, at)
        if found is not None:
            return found
    return ptr, problem


def _quiet_errors(g: Mapping[str, Any], top: Mapping[str, Mapping[str, Any]],
                  add: Callable[[str, str], None]) -> None:
    problem = _need(top, g["field"], ("datetime",), "the contact time")
    if problem:
        add("/field", problem)
    times = {}
    for prop in ("from", "to"):
        if not _HHMM.match(g[prop]):
            add(f"/{prop}", f"{g[prop]!r} is not a time of day; write HH:MM on a 24-hour clock, "
                            f"e.g. {'22:00' if prop == 'from' else '08:00'}")
        else:
            times[prop] = g[prop]
    if len(times) == 2 and times["from"] == times["to"]:
        add("/to", f"the window {g['from']}–{g['to']} is empty; give another end (a window may "
                   "wrap midnight, e.g. from 22:00 to 08:00)")


def _cap_errors(g: Mapping[str, Any], top: Mapping[str, Mapping[str, Any]],
                add: Callable[[str, str], None]) -> None:
    if g["max"] < 1:
        add("/max", f"max {g['max']} would refuse every record; give at least 1, or remove "
                    "the guard")
    problem = _need(top, g["date_field"], ("date", "datetime"), "the day")
    if problem:
        add("/date_field", problem)
    elif top[g["date_field"]]["type"] == "date" and "timezone_field" in g:
        add("/timezone_field", f"'{g['date_field']}' is a date, whose day needs no time zone; "
                               "remove timezone_field (or count by a datetime field)")
    usable = [k for k, f in top.items() if f["type"] not in _NOT_COMPARABLE
              and not (f.get("sensitive") and not (f.get("indexed") or f.get("unique")))]
    for j, key in enumerate(g["same"]):
        f = top.get(key)
        if f is None or f["type"] in _NOT_COMPARABLE:
            what = "not a field of this form" if f is None else f"a {f['type']} field"
            add(f"/same/{j}", f"'{key}' is {what}; records are grouped by fields with one "
                              f"value each: use one of: {', '.join(usable)}")
        elif f.get("sensitive") and not (f.get("indexed") or f.get("unique")):
            add(f"/same/{j}", f"'{key}' is encrypted and keeps no keyed hash, so records cannot "
                              "be grouped by it; mark the field indexed (\"indexed\": true)")


def guard_errors(doc: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """Add to ``errors`` what is wrong with the ``guards`` of a schema-valid form document,
    each problem under its JSON pointer with the fix."""
    guards = doc.get("guards") or ()
    if not guards:
        return
    top = {f["key"]: f for f in doc["fields"]}
    alone = _alone(doc)
    # any keyed hash will do to see whether a condition compiles
    context = None if alone is None else _guard_context(
        *alone, now=_CHECK_NOW, lookup_hash=lambda scope, key, text: text)
    seen: set[str] = set()
    for i, g in enumerate(guards):
        ptr = f"/guards/{i}"

        def add(sub: str, msg: str, ptr: str = ptr) -> None:
            errors.setdefault(ptr + sub, []).append(msg)

        if g["key"] in seen:
            add("/key", f"guard key '{g['key']}' is used by another guard; keys must be unique")
        seen.add(g["key"])
        kind = g["type"]
        for prop in g:
            if prop not in _COMMON | _OWN[kind]:
                add(f"/{prop}", f"'{prop}' does not apply to a {kind} guard; remove it")
        if kind == "quiet_hours":
            _quiet_errors(g, top, add)
        elif kind == "daily_cap":
            _cap_errors(g, top, add)
        elif g["field"] not in top:
            add("/field", f"'{g['field']}' is not a field of this form; name the field the "
                          f"refusal is shown on: {', '.join(top)}")
        if "timezone_field" in g:
            _timezone_errors(doc, g["timezone_field"], add)
        _message_errors(g, add)
        if context is None:
            continue
        # a daily cap counts saved records in SQL, so its conditions must compile there too
        sql = kind == "daily_cap"
        for prop in ("when", "count_where"):
            found = _problem_at(g[prop], context, sql, f"/{prop}") if prop in g else None
            if found is not None:
                add(*found)
        if kind == "require" and not _reads_references(g["condition"]):
            # with reference lookups (consent.purpose) it is checked against the referenced
            # form when the guard first runs, as a timezone_field of another form is
            found = _problem_at(g["condition"], context, False, "/condition")
            if found is not None:
                add(*found)


# --- checks at save ---------------------------------------------------------------------------


class guard_lock(FunctionElement[Any]):
    """Serialises the saves that count toward one daily cap until the transaction ends:
    ``pg_advisory_xact_lock(key)`` on PostgreSQL. SQLite serialises writers itself, so there
    it is a plain ``NULL``."""

    name = "guard_lock"
    type = NullType()
    inherit_cache = True


@compiles(guard_lock)
def _no_lock(element: guard_lock, compiler: Any, **kw: Any) -> str:
    return "NULL"


@compiles(guard_lock, "postgresql")
def _advisory_lock(element: guard_lock, compiler: Any, **kw: Any) -> str:
    return f"pg_advisory_xact_lock({compiler.process(element.clauses, **kw)})"


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key from text parts."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def guards_for(session: Session, cf: CompiledForm) -> tuple[Guard, ...]:
    """The guards of a published form: read once from its published document (by checksum)
    and kept with the compiled table."""
    cached = cf.table.info.get(_INFO_KEY)
    if cached is None:
        doc = None
        if cf.checksum:
            v = db.meta_version
            doc = session.execute(
                select(v.c.doc).where(v.c.kind == "forms", v.c.key == cf.key,
                                      v.c.checksum == cf.checksum)
                .order_by(v.c.version.desc()).limit(1)).scalar()
        cached = load_guards((doc or {}).get("guards") or ())
        cf.table.info[_INFO_KEY] = cached
    return cached  # type: ignore[no-any-return]


def _aware(value: Any) -> Any:
    """SQLite returns naive datetimes; everything is stored in UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _same(before: Mapping[str, Any], after: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return all(_aware(before.get(k)) == _aware(after.get(k)) for k in keys)


def _zone_inputs(spec: str | None) -> tuple[str, ...]:
    return () if spec is None else (spec.partition(".")[0],)


class _GuardRun:
    """The guards of one save: the record as it will be stored, and where errors go."""

    def __init__(self, session: Session, schema: CompiledSchema, cf: CompiledForm,
                 cipher: FieldCipher, now: datetime, lang: str,
                 errors: dict[str, list[str]], record_id: int | None,
                 guards: tuple[Guard, ...]) -> None:
        self.session = session
        self.guards = guards
        self.schema = schema
        self.cf = cf
        self.cipher = cipher
        self.lang = lang
        self.errors = errors
        self.record_id = record_id
        self.context = _guard_context(cf.form, cf.table, now=now, lookup_hash=self._hash)
        self._zones: dict[tuple[str, Any], tzinfo] = {}

    def require(self, g: Require, after: Mapping[str, Any],
                before: Mapping[str, Any] | None) -> None:
        if not self.holds(g.when, after):
            return
        read = {key.partition(".")[0] for key in referenced_fields(g.condition)}
        if before is not None and _same(before, after, sorted(read)) \
                and self.holds(g.when, before):
            return  # an edit that leaves what the rule reads as it was
        schema = ConditionSchema.from_compiled(self.schema)
        context = ConditionContext.for_form(schema, self.cf.key, now=self.context.now,
                                            tz=DEFAULT_TZ, lookup_hash=self._hash)
        try:
            held = compile_predicate(g.condition, context)(
                after, SqlRelatedRows(self.session, schema))
        except UnsupportedNode as exc:
            problem = f"guard {g.key!r}: {exc.message}; fix the form's guard"
            raise MetadataError(problem, {f"/guards/{self.guards.index(g)}/condition":
                                          [problem]}) from None
        if not held:
            self.errors.setdefault(g.field, []).append(self.text(
                g, "guard_require", field=self.label(g.field)))

    def _hash(self, scope: str, key: str, text: str) -> str:
        return self.cipher.keyed_hash(text, f"{scope}.{key}")

    def holds(self, condition: Mapping[str, Any] | None, record: Mapping[str, Any]) -> bool:
        return condition is None or compile_predicate(condition, self.context)(record)

    def text(self, guard: Guard, code: str, **params: Any) -> str:
        if guard.message:
            template = guard.message.get(self.lang) or guard.message.get("en") or ""
            try:
                return template.format(**params)
            except (KeyError, ValueError, IndexError, AttributeError):
                pass  # checked at publish; never let a template break a save
        return guard_message(code, self.lang, **params)

    def label(self, key: str) -> str:
        f = self.cf.form.field(key)
        return f.label.get(self.lang) or f.label.get("en") or key

    def shown(self, key: str, value: Any) -> str:
        f = self.cf.form.field(key)
        if f.sensitive:
            return str(mask_value(f.mask_kind, str(value)))
        if f.type == "select":
            return f.option_label(str(value), self.lang)
        return str(value)

    # time zones
    def zone(self, guard: QuietHours | DailyCap, record: Mapping[str, Any]) -> tzinfo | None:
        """The record's zone (the business zone when the field is empty or no zone); None
        when it cannot be known because the reference holding it is in error."""
        spec = guard.timezone_field
        if spec is None:
            return DEFAULT_TZ
        local, _, remote = spec.partition(".")
        if not remote:
            return zone_named(record.get(local)) or DEFAULT_TZ
        if local in self.errors:
            return None
        target_id = record.get(local)
        if isinstance(target_id, bool) or not isinstance(target_id, int):
            return DEFAULT_TZ
        if (spec, target_id) not in self._zones:
            target = self.schema[self.cf.form.field(local).target or ""]
            column = self._zone_column(guard, target, remote)
            name = self.session.execute(
                select(column).where(target.table.c.id == target_id)).scalar()
            self._zones[(spec, target_id)] = zone_named(name) or DEFAULT_TZ
        return self._zones[(spec, target_id)]

    def _zone_column(self, guard: QuietHours | DailyCap, target: CompiledForm, key: str) -> Any:
        """The column of another form holding the zone, checked against that form now that
        it is known (this form's checks could not see it)."""
        problem: str | None = f"'{key}' is not a field of form '{target.key}'"
        if target.form.has_field(key) and key in target.table.c:
            f = target.form.field(key)
            problem = _zone_field_problem({"key": key, "type": f.type, "sensitive": f.sensitive,
                                           "options": [{"value": v} for v in f.option_values]})
        if problem:
            raise MetadataError(
                f"guard '{guard.key}' of form '{self.cf.key}' cannot read the time zone "
                f"'{guard.timezone_field}': {problem}; an administrator must fix the guard",
                {f"/guards/{self.guards.index(guard)}/timezone_field": [problem]})
        return target.table.c[key]

    # quiet hours
    def quiet_hours(self, g: QuietHours, after: Mapping[str, Any],
                    before: Mapping[str, Any] | None) -> None:
        moment = _aware(after.get(g.field))
        if not isinstance(moment, datetime) or not self.holds(g.when, after):
            return
        zone = self.zone(g, after)
        if zone is None:
            return
        local = moment.astimezone(zone)
        if not in_window(local.time(), g.start, g.end):
            return
        if (before is not None and _same(before, after, (g.field, *_zone_inputs(g.timezone_field)))
                and self.holds(g.when, before)):
            return  # an edit that leaves the contact time as it was adds no contact
        self.errors.setdefault(g.field, []).append(self.text(
            g, "guard_quiet_hours", field=self.label(g.field), time=local.strftime("%H:%M"),
            zone=getattr(zone, "key", str(zone)), **{"from": g.start.strftime("%H:%M"),
                                                     "to": g.end.strftime("%H:%M")}))

    # daily caps
    def _counts(self, g: DailyCap, record: Mapping[str, Any]) -> bool:
        return self.holds(g.when, record) and self.holds(g.count_where, record)

    def daily_cap(self, g: DailyCap, after: Mapping[str, Any],
                  before: Mapping[str, Any] | None) -> None:
        values = [after.get(k) for k in g.same]
        day_value = _aware(after.get(g.date_field))
        if any(is_empty(v) for v in values) or day_value is None or not self._counts(g, after):
            return
        inputs = (*g.same, g.date_field, *_zone_inputs(g.timezone_field))
        if before is not None and _same(before, after, inputs) and self._counts(g, before):
            return  # the record was counted on this day already: the count does not grow
        table = self.cf.table
        column = table.c[g.date_field]
        clauses: list[ColumnElement[bool]] = []
        if isinstance(day_value, datetime):
            zone = self.zone(g, after)
            if zone is None:
                return
            day = day_value.astimezone(zone).date()
            start = datetime.combine(day, time(), zone).astimezone(UTC)
            end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
            clauses += [column >= start, column < end]
        else:
            zone, day = DEFAULT_TZ, day_value
            clauses.append(column == day)
        parts = [self.cf.key, g.key, day.isoformat()]
        for key, value in zip(g.same, values, strict=True):
            f = self.cf.form.field(key)
            if f.sensitive:
                context = f"{self.cf.key}.{key}"
                hashes = self.cipher.keyed_hashes(str(value), context)
                clauses.append(table.c[hash_column_for(key)].in_(hashes))
                parts.append(hashes[0])
            else:
                clauses.append(table.c[key] == value)
                parts.append(repr(value))
        for condition in (g.when, g.count_where):
            if condition is not None:
                clauses.append(compile_sql(condition, self.context))
        if self.record_id is not None:
            clauses.append(table.c.id != self.record_id)
        # the lock is held to the end of the transaction, so a parallel save of the same
        # number and day counts after this one has committed (or rolled back)
        self.session.execute(select(guard_lock(cast(lock_key(*parts), BigInteger))))
        count = self.session.execute(
            select(func.count()).select_from(table).where(and_(*clauses))).scalar_one()
        if count + 1 <= g.max:
            return
        joiner = "、" if self.lang == "zh" else " / "
        self.errors.setdefault(g.same[0], []).append(self.text(
            g, "guard_daily_cap", same=joiner.join(self.label(k) for k in g.same),
            value=joiner.join(self.shown(k, v) for k, v in zip(g.same, values, strict=True)),
            count=count, max=g.max, day=day.isoformat(), zone=getattr(zone, "key", str(zone))))


def check_guards(session: Session, schema: CompiledSchema, cf: CompiledForm,
                 values: Mapping[str, Any], errors: dict[str, list[str]], *,
                 cipher: FieldCipher, now: datetime, lang: str = "en",
                 before: Mapping[str, Any] | None = None, record_id: int | None = None) -> None:
    """Add to ``errors`` (by field key) the refusals of ``cf``'s guards for a save.

    ``values`` are the validated values (all of a new record, the changed ones of an update);
    ``before`` the stored plaintext values of an updated record, ``record_id`` its id (it never
    counts against itself). An update that leaves what a guard looks at unchanged is not
    refused by it. Runs inside the caller's transaction: a daily cap takes its lock there.
    """
    guards = guards_for(session, cf)
    if not guards:
        return
    after = {**(before or {}), **values}
    if record_id is not None:
        after["id"] = record_id
    run = _GuardRun(session, schema, cf, cipher, now, lang, errors, record_id, guards)
    for guard in guards:
        if isinstance(guard, QuietHours):
            run.quiet_hours(guard, after, before)
        elif isinstance(guard, DailyCap):
            run.daily_cap(guard, after, before)
        else:
            run.require(guard, after, before)


__all__ = ["GUARD_TYPES", "PLACEHOLDERS", "DailyCap", "Guard", "QuietHours", "Require",
           "check_guards",
           "guard_errors", "guard_lock", "guards_for", "in_window", "load_guards", "lock_key",
           "zone_named"]
