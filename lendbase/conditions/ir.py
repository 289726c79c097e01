"""The bound expression tree both compilers walk.

``lendbase.conditions.bind`` turns a JSON condition (and the formulas in it) into these nodes
once: fields resolved against the scope, literals converted to their field's type, relative
dates turned into fixed windows with the injected clock, related forms resolved to their link
columns, types checked. ``expr_sql`` compiles them to SQLAlchemy, ``expr_py`` evaluates them on
one record; because both read the same bound tree they cannot disagree on what a node means.

Every node has a ``kind`` (``context.INT``, ``NUM``, ``TEXT``, ``BOOL``, ``DATE``, ``DATETIME``,
``MULTI``, ``NULL`` or ``ANY``). Truth is three-valued as in SQL: a comparison with NULL is
unknown (``None`` in Python), AND / OR / NOT follow Kleene's rules, and ``Truth`` collapses
unknown to false where a condition needs a plain yes or no.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lendbase.conditions.context import BOOL, FieldInfo, Relation
from lendbase.conditions.dates import Window


@dataclass(frozen=True)
class Node:
    """Base of bound nodes; ``kind`` is the value kind the node yields."""

    @property
    def kind(self) -> str:
        return BOOL


@dataclass(frozen=True)
class Lit(Node):
    value: Any
    value_kind: str

    @property
    def kind(self) -> str:
        return self.value_kind


@dataclass(frozen=True)
class Col(Node):
    """A stored field of the current scope's row."""

    field: FieldInfo

    @property
    def kind(self) -> str:
        return self.field.kind


@dataclass(frozen=True)
class Arith(Node):
    """``+ - * /``; ``/`` by zero is NULL."""

    op: str
    left: Node
    right: Node
    result_kind: str

    @property
    def kind(self) -> str:
        return self.result_kind


@dataclass(frozen=True)
class Neg(Node):
    arg: Node

    @property
    def kind(self) -> str:
        return self.arg.kind


@dataclass(frozen=True)
class Cmp(Node):
    """``= != < <= > >=``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Between(Node):
    arg: Node
    low: Node
    high: Node


@dataclass(frozen=True)
class InList(Node):
    arg: Node
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True)
class And(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    """Kleene NOT: NOT unknown is unknown."""

    arg: Node


@dataclass(frozen=True)
class Truth(Node):
    """True when ``arg`` is true; false when it is false or unknown (never unknown)."""

    arg: Node


@dataclass(frozen=True)
class Empty(Node):
    """NULL, or empty text for text, or no option for a multiselect (never unknown)."""

    arg: Node
    negate: bool = False


@dataclass(frozen=True)
class TextMatch(Node):
    """``contains`` / ``starts_with`` / ``ends_with``; case-insensitive unless asked."""

    op: str
    arg: Node
    pattern: Node
    case_sensitive: bool = False


@dataclass(frozen=True)
class MultiMatch(Node):
    """A multiselect holds ``any`` / ``all`` / ``none`` of ``values`` (never unknown)."""

    mode: str
    arg: Node
    values: tuple[str, ...]


@dataclass(frozen=True)
class SecretIn(Node):
    """``=`` / ``in`` on an encrypted field: plain values in Python, keyed hashes in SQL."""

    field: FieldInfo
    values: tuple[Any, ...]
    hashes: tuple[str, ...] | None
    negate: bool = False


@dataclass(frozen=True)
class InWindow(Node):
    """A relative-date window, fixed at bind time from the injected clock. A field of kind
    ``ANY`` (no metadata) carries both windows and picks by the value's type."""

    arg: Node
    date_window: Window | None
    datetime_window: Window | None


@dataclass(frozen=True)
class Func(Node):
    """A formula function (``IF``, ``ROUND``, ``DATEDIF``...); ``param`` holds a constant
    argument such as a unit or a number of decimals."""

    name: str
    args: tuple[Node, ...]
    result_kind: str
    param: Any = None

    @property
    def kind(self) -> str:
        return self.result_kind


@dataclass(frozen=True)
class Exists(Node):
    relation: Relation
    where: Node | None


@dataclass(frozen=True)
class Aggregate(Node):
    """``count`` / ``sum`` / ``min`` / ``max`` over related rows; ``value`` is bound in the
    related scope. ``sum`` of no rows is 0; ``min`` / ``max`` of no rows are NULL."""

    fn: str
    relation: Relation
    value: Node | None
    where: Node | None
    result_kind: str

    @property
    def kind(self) -> str:
        return self.result_kind


@dataclass(frozen=True)
class Lookup(Node):
    """``inner`` read on the record the reference field ``ref`` points at (``customer.rating``
    on a loan): a value, or a whole condition when the leaf needs the target's own column
    (encrypted fields, multiple choice). NULL when the reference is empty or dangling."""

    ref: FieldInfo
    relation: Relation
    inner: Node

    @property
    def kind(self) -> str:
        return self.inner.kind
