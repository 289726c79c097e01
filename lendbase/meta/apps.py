"""Apps: folders of metadata documents installed through the same validate-and-publish path the
API uses. Installing the same app twice changes nothing; ``export_app`` writes it back.

Besides its forms, an ``app.json`` may declare ``seed`` records (``{form_key: [values...]}``,
created through the record service when that form's table is still empty, so an admin's edits
are never overwritten), ``schedules`` (``[{key, cron, job, timezone?, args?, enabled?}]``),
``tag_groups`` (with their ``tags``), ``notification_templates``, and the keys of its
``segments`` and ``rules`` (documents in ``segments/<key>.json`` and ``rules/<key>.json``).
Schedules, tag groups, tags, templates, segments and rules are created only when no item of
that key exists: an admin's change survives upgrades and is reported as kept. The whole folder
is checked before anything changes (``lendbase.meta.app_manifest``); the format is in
docs/apps.md."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, insert, select, update
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.auth.users import ensure_department, ensure_role
from lendbase.errors import MetadataError, NotFound
from lendbase.meta.app_manifest import AppContents, read_app, read_manifest
from lendbase.meta.kinds import publisher
from lendbase.meta.store import MetadataStore, checksum_of
from lendbase.records.permissions import Actor
from lendbase.security import FieldCipher, generate_key_string

Progress = Callable[[str], None] | None


@dataclass
class InstallReport:
    app_key: str
    #: forms published by this install, and forms whose published version was already the app's
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: everything else created, as ``kind/key`` (``tag_groups/risk``, ``tags/overdue``,
    #: ``notification_templates/due_reminder``, ``schedules/x``, ``segments/x``, ``rules/x``)
    installed: list[str] = field(default_factory=list)
    #: items that existed already and were left alone (an admin may have changed them)
    kept: list[str] = field(default_factory=list)


def _say(progress: Progress, line: str) -> None:
    if progress:
        progress(line)


def _install_departments(session: Session, nodes: list[dict[str, Any]],
                         parent: int | None) -> None:
    for node in nodes:
        dept_id = ensure_department(session, node["name"], parent)
        _install_departments(session, node.get("children", []), dept_id)


def _published_form_keys(session: Session) -> set[str]:
    return set(session.execute(select(distinct(db.meta_version.c.key))
                               .where(db.meta_version.c.kind == "forms")).scalars())


def install_app(session: Session, path: Path, actor_id: int | None = None, *,
                confirm: bool = False,
                progress: Progress = None,
                cipher: FieldCipher | None = None) -> InstallReport:
    """Install or upgrade the app in ``path``; never commits.

    Order: roles, departments, forms, seed records, schedules, tag groups, notification
    templates, segments, rules (each may refer to what comes before it). A folder with a
    problem raises ``MetadataError`` before anything changes; a segment or rule its publisher
    refuses raises the publisher's error (pointers prefixed with its file), and the caller's
    rollback undoes the rest. ``cipher`` encrypts sensitive values of seed records; without
    it, seeds may not set sensitive fields."""
    from lendbase.forms.publish import publish_form

    contents = read_app(path, _published_form_keys(session))
    manifest = contents.manifest
    note = f"app {manifest['key']} {manifest['version']}"
    report = InstallReport(manifest["key"])
    for role in manifest.get("roles", []):
        ensure_role(session, role["key"], role.get("label"), bool(role.get("superuser")))
    ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, superuser=True)
    _install_departments(session, manifest.get("departments", []), None)
    store = MetadataStore(session, actor_id)
    for key, doc in contents.documents["forms"].items():
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
                     note=note)
        report.published.append(key)
        _say(progress, f"published form {key}")
    now = datetime.now(UTC)
    _install_seed(session, manifest, cipher, progress)
    _install_schedules(session, manifest, now, report, progress)
    actor = replace(Actor.system(), user_id=actor_id)
    _install_tag_groups(session, actor, manifest.get("tag_groups") or [], report, progress)
    _install_templates(session, actor, manifest.get("notification_templates") or [], report,
                       progress)
    for kind in ("segments", "rules"):
        _install_documents(store, kind, contents.documents[kind], note, report, progress)
    _record_install(session, contents, now)
    return report


def _record_install(session: Session, contents: AppContents, now: datetime) -> None:
    """Keep what the app declared (``lb_app``), so that ``export_app`` can write it back."""
    manifest, docs = contents.manifest, contents.documents
    documents: dict[str, Any] = {"forms": list(docs["forms"])}
    for name in ("tag_groups", "notification_templates", "schedules"):
        if manifest.get(name):
            documents[name] = [item["key"] for item in manifest[name]]
    for kind in ("segments", "rules"):
        if docs[kind]:
            documents[kind] = list(docs[kind])
    for name in ("seed", "departments", "description", "subscribers"):
        if manifest.get(name):
            documents[name] = manifest[name]
    # without segments or rules the checksum is the one earlier versions computed
    checksum = checksum_of({"manifest": manifest, "forms": docs["forms"],
                            **{k: docs[k] for k in ("segments", "rules") if docs[k]}})
    values = {"label": manifest["label"], "version": manifest["version"],
              "checksum": checksum, "documents": documents, "installed_at": now}
    key = manifest["key"]
    existing = session.execute(select(db.app_install.c.checksum, db.app_install.c.documents)
                               .where(db.app_install.c.key == key)).first()
    if existing is None:
        session.execute(insert(db.app_install).values(key=key, **values))
    elif existing.checksum != checksum or existing.documents != documents:
        session.execute(update(db.app_install).where(db.app_install.c.key == key)
                        .values(**values))


def _install_seed(session: Session, manifest: dict[str, Any], cipher: FieldCipher | None,
                  progress: Progress) -> None:
    """Create the app's seed records in each of its forms whose table is empty."""
    from lendbase.forms.publish import load_compiled_schema
    from lendbase.records.service import RecordService

    seed = manifest.get("seed") or {}
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
        _say(progress, f"seeded form {form_key} with {len(rows)} record(s)")


def _install_schedules(session: Session, manifest: dict[str, Any], now: datetime,
                       report: InstallReport, progress: Progress) -> None:
    """Create the schedules the app declares and that do not exist yet."""
    from lendbase.jobs.schedule import get_schedule, save_schedule

    for spec in manifest.get("schedules") or []:
        try:
            get_schedule(session, spec["key"])
            report.kept.append(f"schedules/{spec['key']}")
            continue
        except NotFound:
            pass
        timezone = spec.get("timezone", "UTC")
        save_schedule(session, spec["key"], spec["cron"], spec["job"], spec.get("args"),
                      timezone=timezone, enabled=spec.get("enabled", True), now=now)
        report.installed.append(f"schedules/{spec['key']}")
        _say(progress, f"scheduled {spec['key']} ({spec['cron']}, {timezone})")


def _kept(report: InstallReport, what: str, key: str, differs: bool,
          progress: Progress) -> None:
    report.kept.append(f"{what}/{key}")
    if differs:
        _say(progress, f"kept {what[:-1].replace('_', ' ')} {key}: it exists and differs from "
             "the app's; not overwritten")


def _clean_label(label: Mapping[str, Any]) -> dict[str, str]:
    """A label as the tag catalogue stores it."""
    return {k: v.strip()[:100] for k, v in label.items()
            if k in ("zh", "en") and isinstance(v, str) and v.strip()}


def _group_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A tag group of the manifest with the catalogue's defaults filled in."""
    return {"label": _clean_label(spec["label"]),
            "exclusive": spec.get("exclusive", False), "manual": spec.get("manual", True),
            "roles": sorted(set(spec.get("roles", []))), "sort": spec.get("sort", 0)}


def _tag_spec(spec: Mapping[str, Any], group_key: str) -> dict[str, Any]:
    from lendbase.work.tag_catalog import DEFAULT_COLOR

    return {"group_key": group_key,
            "label": _clean_label(spec["label"]),
            "color": spec.get("color", DEFAULT_COLOR).lower(), "sort": spec.get("sort", 0),
            "active": spec.get("active", True)}


def _install_tag_groups(session: Session, actor: Actor, groups: list[dict[str, Any]],
                        report: InstallReport, progress: Progress) -> None:
    """Create the tag groups and tags that do not exist yet (a tag the app adds to an
    existing group is created in it; existing ones are left as they are)."""
    from lendbase.work import TagCatalog

    catalog = TagCatalog(session, actor)
    groups_now = {g.key: g for g in catalog.groups()}
    tags_now = {t.key: t for t in catalog.tags()}
    for spec in groups:
        key, wanted = spec["key"], _group_spec(spec)
        found = groups_now.get(key)
        if found is None:
            catalog.save_group(key, wanted["label"], exclusive=wanted["exclusive"],
                               manual=wanted["manual"], roles=wanted["roles"],
                               sort=wanted["sort"])
            report.installed.append(f"tag_groups/{key}")
            _say(progress, f"created tag group {key}")
        else:
            have = {"label": dict(found.label), "exclusive": found.exclusive,
                    "manual": found.manual, "roles": sorted(found.roles), "sort": found.sort}
            _kept(report, "tag_groups", key, have != wanted, progress)
        created = []
        for tag in spec["tags"]:
            tag_wanted = _tag_spec(tag, key)
            tag_found = tags_now.get(tag["key"])
            if tag_found is None:
                catalog.save_tag(tag["key"], key, tag_wanted["label"],
                                 color=tag_wanted["color"], sort=tag_wanted["sort"],
                                 active=tag_wanted["active"])
                report.installed.append(f"tags/{tag['key']}")
                created.append(tag["key"])
            else:
                have_tag = {"group_key": tag_found.group_key, "label": dict(tag_found.label),
                            "color": tag_found.color, "sort": tag_found.sort,
                            "active": tag_found.active}
                _kept(report, "tags", tag["key"], have_tag != tag_wanted, progress)
        if created:
            _say(progress, f"added {len(created)} tag(s) to group {key}: {', '.join(created)}")


def _install_templates(session: Session, actor: Actor, templates: list[dict[str, Any]],
                       report: InstallReport, progress: Progress) -> None:
    """Create the notification templates that do not exist yet."""
    from lendbase.work import NotificationService

    service = NotificationService(session, actor)
    existing = {t.key: t for t in service.templates()}
    for spec in templates:
        key = spec["key"]
        wanted = {"label": {k: str(v) for k, v in spec["label"].items() if k in ("zh", "en")},
                  "channel": spec["channel"], "form_key": spec.get("form_key"),
                  "subject": spec.get("subject"), "body": spec["body"],
                  "active": spec.get("active", True)}
        found = existing.get(key)
        if found is not None:
            have = {"label": dict(found.label), "channel": found.channel.value,
                    "form_key": found.form_key, "subject": found.subject, "body": found.body,
                    "active": found.active}
            _kept(report, "notification_templates", key, have != wanted, progress)
            continue
        service.save_template(key, **wanted)
        report.installed.append(f"notification_templates/{key}")
        _say(progress, f"created notification template {key} ({spec['channel']})")


def _install_documents(store: MetadataStore, kind: str, docs: dict[str, dict[str, Any]],
                       note: str, report: InstallReport, progress: Progress) -> None:
    """Create and publish the documents of ``kind`` that have no draft yet."""
    publish = publisher(kind)
    assert publish is not None, f"kind {kind} has no publisher"
    for key, doc in docs.items():
        try:
            draft = store.get_draft(kind, key)
        except NotFound:
            pass
        else:
            _kept(report, kind, key, draft.doc != doc, progress)
            continue
        store.create(kind, doc)
        try:
            publish(store.session, store.actor_id, key, dry_run=False, confirm=False,
                    backfill=None, note=note)
        except MetadataError as exc:
            name = f"{kind}/{key}.json"
            raise MetadataError(f"{name}: {exc.message}; fix the {kind[:-1]} and install again",
                                {f"{name}#{p}": m for p, m in exc.errors.items()}) from exc
        report.installed.append(f"{kind}/{key}")
        _say(progress, f"published {kind[:-1]} {key}")


def installed_apps(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(db.app_install).order_by(db.app_install.c.key)).all()
    return [dict(r._mapping) for r in rows]


def _write_json(target: Path, value: Any) -> Path:
    target.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return target


def export_app(session: Session, key: str, path: Path) -> list[Path]:
    """Write the app's manifest and its documents as they are now to ``path``: the latest
    published forms, segments and rules, the current state of its tag groups (with every tag
    now in them), templates and schedules, and the seed, departments, description and
    subscribers it was installed with. Items deleted since the install are left out."""
    row = session.execute(select(db.app_install).where(db.app_install.c.key == key)).first()
    if row is None:
        raise NotFound(f"no installed app {key!r}")
    declared: dict[str, Any] = row.documents if isinstance(row.documents, dict) else {}
    store = MetadataStore(session, None)
    roles = session.execute(select(db.role.c.key, db.role.c.label, db.role.c.is_superuser)
                            .order_by(db.role.c.id)).all()
    manifest: dict[str, Any] = {"key": key, "label": row.label}
    if declared.get("description"):
        manifest["description"] = declared["description"]
    manifest.update({"version": row.version, "forms": declared.get("forms", []),
                     "roles": [{"key": r.key, "label": r.label, "superuser": r.is_superuser}
                               for r in roles]})
    for name in ("departments", "seed", "subscribers"):
        if declared.get(name):
            manifest[name] = declared[name]
    for name, export in (("schedules", _export_schedules), ("tag_groups", _export_tag_groups),
                         ("notification_templates", _export_templates)):
        items = export(session, declared.get(name, []))
        if items:
            manifest[name] = items
    written = []
    for kind in ("forms", "segments", "rules"):
        keys = []
        for doc_key in declared.get(kind, []):
            version = store.published(kind, doc_key)
            if version is None:
                continue
            (path / kind).mkdir(parents=True, exist_ok=True)
            written.append(_write_json(path / kind / f"{doc_key}.json", version.doc))
            keys.append(doc_key)
        if kind != "forms" and keys:
            manifest[kind] = keys
    path.mkdir(parents=True, exist_ok=True)
    return [_write_json(path / "app.json", manifest), *written]


def _export_schedules(session: Session, keys: list[str]) -> list[dict[str, Any]]:
    from lendbase.jobs.schedule import get_schedule

    out = []
    for key in keys:
        try:
            found = get_schedule(session, key)
        except NotFound:
            continue
        item: dict[str, Any] = {"key": key, "cron": found.cron, "timezone": found.timezone,
                                "job": found.job}
        if found.args:
            item["args"] = dict(found.args)
        if not found.enabled:
            item["enabled"] = False
        out.append(item)
    return out


def _export_tag_groups(session: Session, keys: list[str]) -> list[dict[str, Any]]:
    from lendbase.work import TagCatalog

    catalog = TagCatalog(session, Actor.system())
    out = []
    for key in keys:
        try:
            group = catalog.group(key)
        except NotFound:
            continue
        item: dict[str, Any] = {"key": key, "label": dict(group.label),
                                "exclusive": group.exclusive, "manual": group.manual}
        if group.roles:
            item["roles"] = list(group.roles)
        if group.sort:
            item["sort"] = group.sort
        item["tags"] = [_exported_tag(t) for t in catalog.tags(key)]
        out.append(item)
    return out


def _exported_tag(tag: Any) -> dict[str, Any]:
    """A tag as app.json writes it (defaults left out)."""
    item: dict[str, Any] = {"key": tag.key, "label": dict(tag.label), "color": tag.color}
    if tag.sort:
        item["sort"] = tag.sort
    if not tag.active:
        item["active"] = False
    return item


def _export_templates(session: Session, keys: list[str]) -> list[dict[str, Any]]:
    from lendbase.work import NotificationService

    service = NotificationService(session, Actor.system())
    out = []
    for key in keys:
        try:
            found = service.template(key)
        except NotFound:
            continue
        item: dict[str, Any] = {"key": key, "label": dict(found.label),
                                "channel": found.channel.value}
        if found.form_key is not None:
            item["form_key"] = found.form_key
        if found.subject is not None:
            item["subject"] = found.subject
        item["body"] = found.body
        if not found.active:
            item["active"] = False
        out.append(item)
    return out


__all__ = ["InstallReport", "export_app", "install_app", "installed_apps", "read_manifest"]
