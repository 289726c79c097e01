"""Auto numbers such as ``CUST-2026-000001``: gap-tolerant, never duplicated.

The counter row is incremented with a single ``UPDATE ... RETURNING`` that takes a row lock, so
parallel inserts on PostgreSQL serialise on the counter and never hand out the same number; on
SQLite writers are serialised by the database itself. The sequence restarts whenever the
formatted prefix changes (e.g. a new year for ``{YYYY}``).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.forms.naming import sequence_name_for

_TOKEN = re.compile(r"\{([A-Z]+)(?::(\d+))?\}")


def _render(fmt: str, now: datetime, seq: int | None) -> str:
    def sub(m: re.Match[str]) -> str:
        name, width = m.group(1), m.group(2)
        if name == "SEQ":
            return "{SEQ}" if seq is None else str(seq).zfill(int(width or 1))
        return {"YYYY": f"{now.year:04d}", "YY": f"{now.year % 100:02d}",
                "MM": f"{now.month:02d}", "DD": f"{now.day:02d}"}[name]
    return _TOKEN.sub(sub, fmt)


def _increment(session: Session, name: str) -> int | None:
    return session.execute(
        update(db.sequence).where(db.sequence.c.name == name)
        .values(value=db.sequence.c.value + 1).returning(db.sequence.c.value)
    ).scalar()


def next_number(session: Session, form_key: str, field_key: str, fmt: str,
                now: datetime) -> str:
    prefix = _render(fmt, now, None)
    name = sequence_name_for(form_key, field_key, prefix)
    value = _increment(session, name)
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(db.sequence).values(name=name, value=1))
            value = 1
        except IntegrityError:  # another transaction created it first: its row now exists
            value = _increment(session, name)
    return _render(fmt, now, int(value or 0))


def current_value(session: Session, form_key: str, field_key: str, fmt: str,
                  now: datetime) -> int:
    name = sequence_name_for(form_key, field_key, _render(fmt, now, None))
    return int(session.execute(select(db.sequence.c.value)
                               .where(db.sequence.c.name == name)).scalar() or 0)
