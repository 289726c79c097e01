"""Apps: folders of metadata documents installed through the same validate-and-publish path the
API uses. Installing the same app twice changes nothing; ``export_app`` writes it back.

Besides its forms, an ``app.json`` may declare ``seed`` records (``{form_key: [values...]}``,
created through the record service when that form's table is still empty, so an admin's edits
are never overwritten) and ``schedules`` (``[{key, cron, job, timezone?, args?}]``, created when
no schedule of that key exists, so an admin's change of time or a disable survives upgrades)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.users import ensure_department, ensure_role
from lendbase.errors import MetadataError, NotFound
from lendbase.meta.store import MetadataStore, checksum_of
from lendbase.security import FieldCipher, generate_key_string


@dataclass
class InstallReport:
    app_key: str
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / "app.json"
    if not manifest_path.is_file():
        raise MetadataError(f"{path} is not an app folder: it has no app.json",
                            {"/": ["add app.json with key, label, version and forms"]})
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise MetadataError(f"app.json is not valid JSON: {exc}") from None
    missing = [k for k in ("key", "label", "version", "forms") if k not in manifest]
    if missing:
        raise MetadataError("app.json is incomplete",
                            {f"/{k}": ["is required: add it"] for k in missing})
    return manifest


def _read_form(path: Path, key: str) -> dict[str, Any]:
    doc_path = path / "forms" / f"{key}.json"
    if not doc_path.is_file():
        raise MetadataError(f"app.json lists form {key!r} but {doc_path} does not exist")
    try:
        doc = json.loads(doc_path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{doc_path} is not valid JSON: {exc}") from None
    if doc.get("key") != key:
        raise MetadataError(f"{doc_path}: its key is {doc.get('key')!r}, expected {key!r}")
    return doc


def _install_departments(session: Session, nodes: list[dict[str, Any]],
                         parent: int | None) -> None:
    for node in nodes:
        dept_id = ensure_department(session, node["name"], parent)
        _install_departments(session, node.get("children", []), dept_id)


def install_app(session: Session, path: Path, actor_id: int | None = None, *,
                confirm: bool = False,
                progress: Callable[[str], None] | None = None,
                cipher: FieldCipher | None = None) -> InstallReport:
    """Install or upgrade the app in ``path``; never commits.

    ``cipher`` encrypts sensitive values of seed records; without it, seeds may not set
    sensitive fields."""
    from lendbase.forms.publish import publish_form

    manifest = read_manifest(path)
    report = InstallReport(manifest["key"])
    for role in manifest.get("roles", []):
        ensure_role(session, role["key"], role.get("label"), bool(role.get("superuser")))
    ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, superuser=True)
    _install_departments(session, manifest.get("departments", []), None)
    store = MetadataStore(session, actor_id)
    docs = {}
    for key in manifest["forms"]:
        doc = _read_form(path, key)
        docs[key] = doc
        published = store.published("forms", key)
        if published is not None and published.checksum == checksum_of(doc):
            report.unchanged.append(key)
            continue
        try:
            draft = store.get_draft("forms", key)
            store.save_draft("forms", key, doc, draft.lock_version)
        except NotFound:
            store.create("forms", doc)
        publish_form(session, actor_id, key, dry_run=False, confirm=confirm, backfill=None,
                     note=f"app {manifest['key']} {manifest['version']}")
        report.published.append(key)
        if progress:
            progress(f"published form {key}")
    now = datetime.now(UTC)
    _install_seed(session, manifest, cipher, progress)
    _install_schedules(session, manifest, now, progress)
    values = {"label": manifest["label"], "version": manifest["version"],
              "checksum": checksum_of({"manifest": manifest, "forms": docs}),
              "documents": {"forms": list(manifest["forms"])}, "installed_at": now}
    existing = session.execute(select(db.app_install.c.checksum)
                               .where(db.app_install.c.key == manifest["key"])).first()
    if existing is None:
        session.execute(insert(db.app_install).values(key=manifest["key"], **values))
    elif existing.checksum != values["checksum"]:
        session.execute(update(db.app_install).where(db.app_install.c.key == manifest["key"])
                        .values(**values))
    return report


def _install_seed(session: Session, manifest: dict[str, Any], cipher: FieldCipher | None,
                  progress: Callable[[str], None] | None) -> None:
    """Create the app's seed records in each of its forms whose table is empty."""
    from lendbase.forms.publish import load_compiled_schema
    from lendbase.records.permissions import Actor
    from lendbase.records.service import RecordService

    seed = manifest.get("seed") or {}
    unknown = [key for key in seed if key not in manifest["forms"]]
    if unknown:
        raise MetadataError("app.json seeds forms it does not list",
                            {f"/seed/{key}": ["list the form in forms, or remove its seed"]
                             for key in unknown})
    if not seed:
        return
    schema = load_compiled_schema(session)
    for form_key, rows in seed.items():
        compiled = schema[form_key]
        if session.execute(select(compiled.table.c.id).limit(1)).first() is not None:
            continue
        sensitive = {f.key for f in compiled.form.fields if f.sensitive}
        if cipher is None and any(sensitive & set(row) for row in rows):
            raise MetadataError(f"the seed of form {form_key!r} sets sensitive fields; install "
                                "it with the field key configured")
        # without sensitive values a throwaway key is never used
        service = RecordService(session, schema, Actor.system(),
                                cipher or FieldCipher.from_key_string(generate_key_string()))
        for row in rows:
            service.create(form_key, row)
        if progress:
            progress(f"seeded form {form_key} with {len(rows)} record(s)")


def _install_schedules(session: Session, manifest: dict[str, Any], now: datetime,
                       progress: Callable[[str], None] | None) -> None:
    """Create the schedules the app declares and that do not exist yet."""
    from lendbase.jobs.schedule import get_schedule, save_schedule

    for spec in manifest.get("schedules") or []:
        try:
            get_schedule(session, spec["key"])
            continue
        except NotFound:
            pass
        save_schedule(session, spec["key"], spec["cron"], spec["job"], spec.get("args"),
                      timezone=spec.get("timezone", "UTC"), now=now)
        if progress:
            progress(f"scheduled {spec['key']} ({spec['cron']}, {spec.get('timezone', 'UTC')})")


def installed_apps(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(db.app_install).order_by(db.app_install.c.key)).all()
    return [dict(r._mapping) for r in rows]


def export_app(session: Session, key: str, path: Path) -> list[Path]:
    """Write the app's manifest and its latest published documents to ``path``."""
    row = session.execute(select(db.app_install).where(db.app_install.c.key == key)).first()
    if row is None:
        raise NotFound(f"no installed app {key!r}")
    store = MetadataStore(session, None)
    roles = session.execute(select(db.role.c.key, db.role.c.label, db.role.c.is_superuser)
                            .order_by(db.role.c.id)).all()
    manifest = {"key": key, "label": row.label, "version": row.version,
                "forms": row.documents["forms"],
                "roles": [{"key": r.key, "label": r.label, "superuser": r.is_superuser}
                          for r in roles]}
    (path / "forms").mkdir(parents=True, exist_ok=True)
    written = [path / "app.json"]
    (path / "app.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                   "utf-8")
    for form_key in row.documents["forms"]:
        version = store.published("forms", form_key)
        if version is None:
            continue
        target = path / "forms" / f"{form_key}.json"
        target.write_text(json.dumps(version.doc, ensure_ascii=False, indent=2) + "\n", "utf-8")
        written.append(target)
    return written
