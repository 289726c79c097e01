"""Schema evolution by plan: diff two form definitions, dry-run the plan, apply it.

``plan_migration`` (pure) -> ``inspect_plan`` (reads the data) -> ``apply_plan`` (Alembic ops in
the caller's transaction). ``lendbase.forms.publish.publish_form`` strings them together.
"""

from lendbase.forms.migration.apply import ApplyResult, apply_plan
from lendbase.forms.migration.archive import (
    archived_child_table,
    attach_archived,
    field_to_doc,
    fields_from_docs,
)
from lendbase.forms.migration.backfill import parse_backfill
from lendbase.forms.migration.convert import FieldBackfill, Outcome, ValueConverter
from lendbase.forms.migration.inspect import OpReport, PlanReport, Sample, inspect_plan
from lendbase.forms.migration.operations import (
    AddField,
    AddFormIndex,
    AddIndex,
    AddLookupHash,
    AddSubtable,
    ArchiveField,
    ArchiveSubtable,
    ChangeOnDelete,
    ChangePrecision,
    ChangeRules,
    ChangeType,
    Conversion,
    CreateForm,
    DropFormIndex,
    DropIndex,
    DropLookupHash,
    DropUnique,
    MakeRequired,
    MakeUnique,
    MetadataOnly,
    NarrowLength,
    Operation,
    RemoveOptions,
    RestoreField,
    RestoreSubtable,
    RetargetReference,
    Risk,
    ToggleSensitive,
    Unsupported,
    Where,
    WidenLength,
    WidenPrecision,
)
from lendbase.forms.migration.plan import MigrationPlan, next_archived, plan_migration

__all__ = [
    "AddField", "AddFormIndex", "AddIndex", "AddLookupHash", "AddSubtable", "ApplyResult",
    "ArchiveField", "ArchiveSubtable", "ChangeOnDelete", "ChangePrecision", "ChangeRules",
    "ChangeType", "Conversion", "CreateForm", "DropFormIndex", "DropIndex", "DropLookupHash",
    "DropUnique", "FieldBackfill", "MakeRequired", "MakeUnique", "MetadataOnly", "MigrationPlan",
    "NarrowLength", "OpReport", "Operation", "Outcome", "PlanReport", "RemoveOptions",
    "RestoreField", "RestoreSubtable", "RetargetReference", "Risk", "Sample", "ToggleSensitive",
    "Unsupported", "ValueConverter", "WidenLength", "WidenPrecision", "Where", "apply_plan",
    "archived_child_table", "attach_archived", "field_to_doc", "fields_from_docs",
    "inspect_plan", "next_archived", "parse_backfill", "plan_migration",
]
