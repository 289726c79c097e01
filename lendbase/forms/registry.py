"""Compiled forms cached per process, refreshed when the metadata generation moves.

Every request or job calls ``schema(session)``; that reads one integer (the generation) and
recompiles only when another process has published something, so a publish is seen everywhere on
the next request, with no restart. Owned by the app object, not a module global.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from lendbase.forms.compile import CompiledSchema
from lendbase.meta.store import read_generation


class FormRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = -1
        self._schema: CompiledSchema | None = None

    def schema(self, session: Session) -> CompiledSchema:
        generation = read_generation(session)
        if self._schema is not None and generation == self._generation:
            return self._schema
        from lendbase.forms.publish import load_compiled_schema

        with self._lock:
            if self._schema is None or generation != self._generation:
                self._schema = load_compiled_schema(session)
                self._generation = generation
            return self._schema

    def invalidate(self) -> None:
        with self._lock:
            self._generation = -1
            self._schema = None
