"""The condition language (DESIGN.md): one JSON tree for visibility, rules, segments, filters."""

from lendbase.conditions.predicate import UnsupportedNode, evaluate

__all__ = ["UnsupportedNode", "evaluate"]
