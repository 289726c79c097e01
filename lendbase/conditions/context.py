"""What the condition compilers may know: the fields of a form, its table, its related forms
and the clock. Identifiers in the SQL come only from here (from published metadata).

* ``FieldInfo``: one field a condition may read (its value kind, column, encryption).
* ``FormScope``: one table a condition runs over: a form's table or a sub-table's child table.
* ``ConditionSchema``: every installed form's scope and how forms link (``relation``).
* ``ConditionContext``: the scope a condition starts in, the schema, the injected clock and
  the keyed hash used to look up encrypted values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table

from lendbase.conditions.errors import UnsupportedNode
from lendbase.forms.compile import SYSTEM_COLUMNS
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.naming import hash_column_for
from lendbase.forms.values import DEFAULT_TZ, literal_coercer

if TYPE_CHECKING:
    from lendbase.forms.compile import CompiledSchema

#: Limits on condition trees (deeper or wider trees are refused); nested related-record
#: conditions count towards both.
MAX_DEPTH = 20
MAX_LEAVES = 200
#: Value kinds of the expression language.
INT, NUM, TEXT, BOOL, DATE, DATETIME, MULTI, NULL, ANY = (
    "int", "num", "text", "bool", "date", "datetime", "multi", "null", "any")
NUMERIC = frozenset({INT, NUM})
_TEXT_TYPES = {"text", "textarea", "phone", "email", "id_number", "uscc", "region", "select",
               "auto_number"}
_KIND_OF_TYPE = {"integer": INT, "decimal": NUM, "money": NUM, "percent": NUM, "date": DATE,
                 "datetime": DATETIME, "boolean": BOOL, "multiselect": MULTI,
                 "reference": INT, "user": INT, "file": INT}
#: ``result_type`` of a computed field -> the kind its formula must have.
RESULT_KINDS = {"text": TEXT, "integer": INT, "decimal": NUM, "money": NUM, "date": DATE,
                "boolean": BOOL}
#: Form field types of the system columns (for literal conversion).
SYSTEM_FIELDS = {
    key: FieldDef(key, "datetime" if key.endswith("_at") else "integer", {"en": key, "zh": key})
    for key in SYSTEM_COLUMNS
}
#: ``lookup_hash(scope_key, field_key, normalised_text) -> hex digest``: the keyed hash stored
#: beside an encrypted value (``RecordCodec.lookup_hash`` with context ``scope.field``).
LookupHash = Callable[[str, str, str], str]


def kind_of_type(field_type: str) -> str:
    if field_type in _TEXT_TYPES:
        return TEXT
    return _KIND_OF_TYPE.get(field_type, ANY)


def kind_of_python(python_type: type) -> str:
    """The value kind of a column by its Python type (for scopes built from a bare table)."""
    if python_type is bool:
        return BOOL
    if python_type is int:
        return INT
    if python_type in (Decimal, float):
        return NUM
    if python_type is str:
        return TEXT
    if python_type is datetime:
        return DATETIME
    if python_type is date:
        return DATE
    return ANY


@dataclass(frozen=True)
class FieldInfo:
    """One field a condition may read."""

    key: str
    kind: str
    #: column in the scope's table; None for a computed field (its ``formula`` is inlined)
    column: str | None
    definition: FieldDef | None = None
    sensitive: bool = False
    #: keyed-hash column of an encrypted field that has one (unique or indexed)
    hash_column: str | None = None
    formula: str | None = None


def field_info(f: FieldDef) -> FieldInfo:
    if f.type == "computed":
        kind = RESULT_KINDS.get(f.result_type or "", ANY)
        return FieldInfo(f.key, kind, None, f, formula=f.formula)
    return FieldInfo(f.key, kind_of_type(f.type), f.key, f, sensitive=f.sensitive,
                     hash_column=hash_column_for(f.key) if f.has_lookup_hash else None)


@dataclass(frozen=True)
class FormScope:
    """One table a condition runs over, and the fields it may read there.

    ``key`` is the form key, or ``form.subtable`` for a sub-table's rows (also the keyed-hash
    scope of encrypted values there). ``table`` is None for a scope only evaluated in Python.
    A ``dynamic`` scope (form visibility without metadata) reads any key from the record.
    """

    key: str
    table: Table | None
    fields: Mapping[str, FieldInfo]
    form: str | None = None
    subtable: str | None = None
    coerce: Callable[[str, Any], Any] | None = None
    dynamic: bool = False

    def field(self, key: Any) -> FieldInfo:
        if not isinstance(key, str):
            raise UnsupportedNode(f"\"field\" must be a field key (text), got {key!r}")
        found = self.fields.get(key)
        if found is not None:
            return found
        if self.dynamic:
            return FieldInfo(key, ANY, key)
        known = sorted(self.fields)
        hint = ", ".join(known[:15]) + (", ..." if len(known) > 15 else "")
        where = f" of {self.key!r}" if self.key else ""
        raise UnsupportedNode(f"condition refers to unknown field {key!r}{where}; "
                              f"use one of: {hint}")

    @classmethod
    def for_form(cls, form: FormDef, table: Table | None, *,
                 exclude: Collection[str] = (), sensitive: bool = True) -> FormScope:
        """A form's own table: its stored and computed fields and the system columns, less
        ``exclude`` (hidden from the reader) and, unless ``sensitive``, encrypted fields."""
        defs = {**SYSTEM_FIELDS, **{f.key: f for f in form.fields if f.type != "subtable"}}
        defs = {k: f for k, f in defs.items()
                if k not in exclude and (sensitive or not f.sensitive)}
        return cls(form.key, table, {k: field_info(f) for k, f in defs.items()}, form=form.key,
                   coerce=literal_coercer(defs))

    @classmethod
    def for_subtable(cls, form: FormDef, sub: FieldDef, table: Table | None, *,
                     exclude: Collection[str] = (), sensitive: bool = True) -> FormScope:
        defs = {"id": SYSTEM_FIELDS["id"], "parent_id": FieldDef("parent_id", "integer", {}),
                "seq": FieldDef("seq", "integer", {})}
        defs |= {f.key: f for f in sub.fields
                 if f.key not in exclude and (sensitive or not f.sensitive)}
        return cls(f"{form.key}.{sub.key}", table, {k: field_info(f) for k, f in defs.items()},
                   form=form.key, subtable=sub.key, coerce=literal_coercer(defs))

    @classmethod
    def for_table(cls, table: Table, columns: Mapping[str, str] | None = None,
                  coerce: Callable[[str, Any], Any] | None = None,
                  multi_valued: Collection[str] = ()) -> FormScope:
        """A bare table (no form definition): kinds come from the column types."""
        names = columns if columns is not None else {c.name: c.name for c in table.c}
        fields: dict[str, FieldInfo] = {}
        for key, name in names.items():
            if name not in table.c:
                continue
            if key in multi_valued:
                kind = MULTI
            else:
                try:
                    kind = kind_of_python(table.c[name].type.python_type)
                except NotImplementedError:
                    kind = ANY
            fields[key] = FieldInfo(key, kind, name)
        return cls("", table, fields, coerce=coerce)

    @classmethod
    def for_record(cls, coerce: Callable[[str, Any], Any] | None = None) -> FormScope:
        """A record in memory without metadata (form visibility): every key is readable."""
        return cls("", None, {}, coerce=coerce, dynamic=True)


@dataclass(frozen=True)
class Relation:
    """Rows related to a record: a referencing form's rows whose ``link`` field holds the
    record's id, or the rows of one of the record's sub-tables (``link`` = sub-table key)."""

    form: str
    link: str
    scope: FormScope
    #: column of ``scope.table`` holding the outer record's id (indexed: a foreign key)
    link_column: str


class ConditionSchema:
    """The installed forms as the condition compilers see them (built from the compiled
    schema; nothing here reads the database)."""

    def __init__(self, forms: Mapping[str, FormScope], defs: Mapping[str, FormDef],
                 children: Mapping[tuple[str, str], FormScope]) -> None:
        self._forms = dict(forms)
        self._defs = dict(defs)
        self._children = dict(children)

    @classmethod
    def from_compiled(cls, compiled: CompiledSchema, *,
                      hidden_fields: Mapping[str, Collection[str]] | None = None,
                      forms: Collection[str] | None = None,
                      sensitive: bool = True) -> ConditionSchema:
        """Scopes for every published form (or only ``forms``), without the fields in
        ``hidden_fields[form_key]`` (``form.subtable`` keys hide sub-table fields) and, unless
        ``sensitive``, without encrypted fields."""
        hidden = hidden_fields or {}
        scopes: dict[str, FormScope] = {}
        defs: dict[str, FormDef] = {}
        children: dict[tuple[str, str], FormScope] = {}
        for key, cf in compiled.forms.items():
            if forms is not None and key not in forms:
                continue
            defs[key] = cf.form
            scopes[key] = FormScope.for_form(cf.form, cf.table, exclude=hidden.get(key, ()),
                                             sensitive=sensitive)
            for sub in cf.form.subtables:
                if sub.key in hidden.get(key, ()):
                    continue
                children[(key, sub.key)] = FormScope.for_subtable(
                    cf.form, sub, cf.child_tables.get(sub.key),
                    exclude=hidden.get(f"{key}.{sub.key}", ()), sensitive=sensitive)
        return cls(scopes, defs, children)

    @classmethod
    def from_forms(cls, forms: Collection[FormDef]) -> ConditionSchema:
        """Scopes without tables, for conditions only evaluated in Python."""
        scopes = {f.key: FormScope.for_form(f, None) for f in forms}
        children = {(f.key, s.key): FormScope.for_subtable(f, s, None)
                    for f in forms for s in f.subtables}
        return cls(scopes, {f.key: f for f in forms}, children)

    def form(self, key: str) -> FormScope:
        found = self._forms.get(key)
        if found is None:
            raise UnsupportedNode(f"unknown form {key!r}; use one of: "
                                  f"{', '.join(sorted(self._forms)) or '(none installed)'}")
        return found

    def rows_of(self, form: str, link: str) -> Relation:
        """The rows a resolver reads for ``(form, link)``: a sub-table ``link`` of ``form``,
        the rows of ``form`` by its reference field ``link``, or (``link`` = ``"id"``) the
        record of ``form`` a reference points at."""
        if link == "id":
            return Relation(form, "id", self.form(form), "id")
        if (form, link) in self._children:
            return Relation(form, link, self._children[(form, link)], "parent_id")
        scope = self.form(form)
        info = scope.fields.get(link)
        if info is None or info.definition is None or info.definition.type != "reference":
            raise UnsupportedNode(f"{link!r} is neither a sub-table nor a reference field of "
                                  f"form {form!r}")
        return Relation(form, link, scope, link)

    def lookup(self, scope: FormScope, path: str) -> tuple[FieldInfo, Relation, str]:
        """Split ``reference.rest`` (``customer.birth_date``): the reference field of
        ``scope``, the record it points at (a ``Relation`` whose link column is the target's
        ``id``) and the rest of the path, read on that record."""
        ref_key, _, rest = path.partition(".")
        if scope.subtable is not None or scope.form is None:
            raise UnsupportedNode(f"{path!r}: rows of {scope.key or 'this table'!r} cannot "
                                  "follow references; use a field of the form")
        info = scope.field(ref_key)
        definition = info.definition
        if definition is None or definition.type != "reference" or not definition.target:
            refs = sorted(k for k, f in scope.fields.items()
                          if f.definition is not None and f.definition.type == "reference")
            raise UnsupportedNode(f"{path!r}: {ref_key!r} is not a reference field of "
                                  f"{scope.key!r}; a dotted key starts with one of: "
                                  f"{', '.join(refs) or '(the form has none)'}")
        if not rest:
            raise UnsupportedNode(f"{path!r}: name the field of {definition.target!r} to read "
                                  f"after the dot, e.g. {ref_key}.name")
        return info, Relation(definition.target, "id", self.form(definition.target), "id"), rest

    def relation(self, scope: FormScope, form: Any, link: Any) -> Relation:
        """How rows of ``form`` relate to a record of ``scope`` through ``link``."""
        if not isinstance(form, str) or not isinstance(link, str):
            raise UnsupportedNode("a related-records node needs \"form\" and \"link\" as text, "
                                  "e.g. {\"form\": \"installment\", \"link\": \"customer\"}")
        if scope.subtable is not None or scope.form is None:
            raise UnsupportedNode(f"rows of {scope.key or 'this table'!r} have no related "
                                  "records; related conditions start from a form")
        if form == scope.form and (scope.form, link) in self._children:
            return Relation(form, link, self._children[(scope.form, link)], "parent_id")
        other = self.form(form)
        definition = self._defs[form]
        subtables = [s.key for s in self._defs[scope.form].subtables
                     if (scope.form, s.key) in self._children]
        links = [f.key for f in definition.fields
                 if f.type == "reference" and f.target == scope.form and f.key in other.fields]
        if link not in links:
            options = [f"a reference field of {form!r} pointing at {scope.form!r}"
                       f" ({', '.join(links) or 'it has none'})"]
            if form == scope.form or subtables:
                options.append(f"with form {scope.form!r}, one of its sub-tables "
                               f"({', '.join(subtables) or 'it has none'})")
            raise UnsupportedNode(f"link {link!r} does not relate form {form!r} to "
                                  f"{scope.form!r}; \"link\" must be " + " or ".join(options))
        return Relation(form, link, other, link)


@dataclass(frozen=True)
class ConditionContext:
    """Everything a compiler needs besides the condition itself.

    ``now`` is the injected clock (timezone-aware): relative dates, ``TODAY()`` and ``NOW()``
    read it and nothing else; without it they are refused. ``tz`` is the business time zone
    that decides which day "today" is. ``lookup_hash`` lets SQL compare encrypted fields by
    their keyed hash.
    """

    scope: FormScope
    schema: ConditionSchema | None = None
    now: datetime | None = None
    tz: tzinfo = DEFAULT_TZ
    lookup_hash: LookupHash | None = None
    max_depth: int = MAX_DEPTH
    max_leaves: int = MAX_LEAVES

    def __post_init__(self) -> None:
        if self.now is not None and self.now.utcoffset() is None:
            raise ValueError("ConditionContext.now must be timezone-aware "
                             "(e.g. datetime.now(UTC)); a naive time has no fixed instant")

    @classmethod
    def for_form(cls, schema: ConditionSchema, form_key: str, *, now: datetime | None = None,
                 tz: tzinfo = DEFAULT_TZ, lookup_hash: LookupHash | None = None
                 ) -> ConditionContext:
        return cls(schema.form(form_key), schema, now, tz, lookup_hash)

    def within(self, scope: FormScope) -> ConditionContext:
        """The same context over related rows."""
        return replace(self, scope=scope)

    @property
    def now_utc(self) -> datetime | None:
        return None if self.now is None else self.now.astimezone(UTC)
