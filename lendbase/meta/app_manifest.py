"""Reading and checking an app folder before anything of it is installed.

``read_app`` reads ``app.json`` and every document it lists (``forms/<key>.json``,
``segments/<key>.json``, ``rules/<key>.json``), checks them all and raises one
``MetadataError`` listing every problem by JSON pointer: ``/rules/3`` for the fourth entry of
the manifest's ``rules``, ``rules/overdue.json#/trigger/cron`` for a pointer inside a document.
Nothing here touches the database: what can only be checked against installed state (a rule's
tags and templates, a form's references) is left to the kind's publisher.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendbase.errors import MetadataError, ValidationFailed
from lendbase.meta.app_events import check_subscribers
from lendbase.meta.validate import validate_document

#: Kinds whose documents are files ``<app>/<kind>/<key>.json``, in the order they install.
DOCUMENT_KINDS = ("forms", "segments", "rules")

MANIFEST_KEYS = ("key", "label", "description", "version", "forms", "roles", "departments",
                 "seed", "schedules", "tag_groups", "notification_templates", "segments",
                 "rules", "subscribers")
SCHEDULE_KEYS = ("key", "cron", "job", "timezone", "args", "enabled")
TAG_GROUP_KEYS = ("key", "label", "exclusive", "manual", "roles", "sort", "tags")
TAG_KEYS = ("key", "label", "color", "sort", "active")
TEMPLATE_KEYS = ("key", "label", "channel", "form_key", "subject", "body", "active")

_TAG_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TEMPLATE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SORT_RANGE = range(-999_999, 1_000_000)

Add = Callable[[str, str], None]


@dataclass(frozen=True)
class AppContents:
    """An app folder that passed every check: its manifest and its documents by kind and key
    (in the manifest's order)."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, dict[str, dict[str, Any]]]


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / "app.json"
    if not manifest_path.is_file():
        raise MetadataError(f"{path} is not an app folder: it has no app.json",
                            {"/": ["add app.json with key, label, version and forms"]})
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise MetadataError(f"app.json is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise MetadataError("app.json must hold one JSON object",
                            {"/": ["write {\"key\": ..., \"label\": ..., \"version\": ..., "
                                   "\"forms\": [...]}"]})
    missing = [k for k in ("key", "label", "version", "forms") if k not in manifest]
    if missing:
        raise MetadataError("app.json is incomplete",
                            {f"/{k}": ["is required: add it"] for k in missing})
    return manifest


def read_app(path: Path, known_forms: Iterable[str] = ()) -> AppContents:
    """Read and check the app in ``path``; ``known_forms`` are forms already published (a
    notification template may be about one of them as well as about the app's own)."""
    manifest = read_manifest(path)
    errors: dict[str, list[str]] = {}

    def add(pointer: str, message: str) -> None:
        errors.setdefault(pointer, []).append(message)

    _check_top_level(manifest, add)
    documents = {kind: _read_documents(path, manifest, kind, add) for kind in DOCUMENT_KINDS}
    listed = manifest["forms"] if isinstance(manifest["forms"], list) else []
    forms = {k for k in listed if isinstance(k, str)}
    _check_seed(manifest.get("seed"), forms, add)
    _check_schedules(manifest.get("schedules"), add)
    _check_tag_groups(manifest.get("tag_groups"), add)
    _check_templates(manifest.get("notification_templates"), forms | set(known_forms), add)
    check_subscribers(manifest.get("subscribers"), forms | set(known_forms), add)
    if errors:
        count = sum(len(v) for v in errors.values())
        raise MetadataError(f"app {manifest['key']!r} in {path} has {count} problem(s); "
                            "nothing was installed", errors)
    return AppContents(path, manifest, documents)


def escape(token: str) -> str:
    """One JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _check_top_level(manifest: Mapping[str, Any], add: Add) -> None:
    for name in manifest:
        if name not in MANIFEST_KEYS:
            add(f"/{escape(str(name))}", "unknown key: remove it or check its spelling; "
                f"app.json knows {', '.join(MANIFEST_KEYS)}")
    if not isinstance(manifest["key"], str) or not manifest["key"]:
        add("/key", "give the app a key such as 'credit_template'")
    for name in ("roles", "departments", "schedules", "tag_groups", "notification_templates"):
        if name in manifest and not isinstance(manifest[name], list):
            add(f"/{name}", "must be a list ([...]); an empty one may be left out")


def _read_documents(path: Path, manifest: Mapping[str, Any], kind: str,
                    add: Add) -> dict[str, dict[str, Any]]:
    keys = manifest.get(kind, [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        add(f"/{kind}", f"list the keys of the app's {kind}, each the name of a file in "
            f"{kind}/ without .json, e.g. [\"customer\"]")
        return {}
    singular = kind[:-1]
    docs: dict[str, dict[str, Any]] = {}
    listed: set[str] = set()
    for index, key in enumerate(keys):
        at, name = f"/{kind}/{index}", f"{kind}/{key}.json"
        if key in listed:
            add(at, f"{key!r} is listed twice: remove one")
            continue
        listed.add(key)
        file = path / kind / f"{key}.json"
        if not file.is_file():
            add(at, f"{name} does not exist: add the {singular} document there, or remove "
                f"{key!r} from {kind}")
            continue
        try:
            doc = json.loads(file.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            add(at, f"{name} is not valid JSON ({exc}): fix the file")
            continue
        found = doc.get("key") if isinstance(doc, dict) else None
        if found != key:
            add(at, f"{name} has the key {found!r}, expected {key!r}: set its \"key\" to "
                f"{key!r}, or rename the file and the entry to {found!r}")
            continue
        try:
            validate_document(kind, doc)
        except MetadataError as exc:
            for pointer, messages in (exc.errors or {"": [exc.message]}).items():
                for message in messages:
                    add(f"{name}#{pointer}", message)
            continue
        docs[key] = doc
    folder = path / kind
    if folder.is_dir():
        for file in sorted(folder.glob("*.json")):
            if file.stem not in listed:
                add(f"/{kind}", f"{kind}/{file.name} is not listed: add {file.stem!r} to "
                    f"{kind} in app.json, or delete the file")
    return docs


def _unknown_keys(item: Mapping[str, Any], allowed: tuple[str, ...], at: str,
                  add: Add) -> None:
    for name in item:
        if name not in allowed:
            add(f"{at}/{escape(str(name))}", "unknown key: remove it or check its spelling; "
                f"use {', '.join(allowed)}")


def _objects(items: Any, at: str, add: Add, example: str) -> list[tuple[str, dict[str, Any]]]:
    """The entries of a manifest list that are objects, with their pointers."""
    if not isinstance(items, list):
        return []
    out = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            out.append((f"{at}/{index}", item))
        else:
            add(f"{at}/{index}", f"must be an object, e.g. {example}")
    return out


def _check_label(label: Any, at: str, add: Add) -> None:
    if not isinstance(label, dict) or not any(
            isinstance(label.get(lang), str) and label[lang].strip() for lang in ("zh", "en")):
        add(at, 'give a label in Chinese and English, e.g. {"zh": "评级", "en": "Rating"}')


def _check_unique(key: Any, seen: set[str], what: str, at: str, add: Add) -> None:
    if isinstance(key, str):
        if key in seen:
            add(at, f"{what} {key!r} is declared twice: keep one")
        seen.add(key)


def _check_flags(item: Mapping[str, Any], names: tuple[str, ...], at: str, add: Add) -> None:
    for name in names:
        if name in item and not isinstance(item[name], bool):
            add(f"{at}/{name}", "use true or false")


def _check_sort(item: Mapping[str, Any], at: str, add: Add) -> None:
    sort = item.get("sort", 0)
    if isinstance(sort, bool) or not isinstance(sort, int) or sort not in _SORT_RANGE:
        add(f"{at}/sort", "use a whole number between -999999 and 999999")


def _check_seed(seed: Any, forms: set[str], add: Add) -> None:
    if seed is None:
        return
    if not isinstance(seed, dict):
        add("/seed", 'map form keys to lists of records, e.g. {"branch": [{"name": "总部"}]}')
        return
    for form_key, rows in seed.items():
        at = f"/seed/{escape(form_key)}"
        if form_key not in forms:
            add(at, "list the form in forms, or remove its seed")
        elif not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            add(at, "give a list of records, each an object of field values")


def _check_schedules(schedules: Any, add: Add) -> None:
    seen: set[str] = set()
    example = '{"key": "nightly", "cron": "0 1 * * *", "job": "package.module.function"}'
    for at, spec in _objects(schedules, "/schedules", add, example):
        _unknown_keys(spec, SCHEDULE_KEYS, at, add)
        for name in ("key", "cron", "job"):
            if not isinstance(spec.get(name), str) or not spec[name].strip():
                add(f"{at}/{name}", f"is required: give the schedule's {name}, e.g. {example}")
        if "timezone" in spec and not isinstance(spec["timezone"], str):
            add(f"{at}/timezone", "use a time zone name such as 'Asia/Shanghai'")
        if "args" in spec and not isinstance(spec["args"], dict):
            add(f"{at}/args", "give the job's keyword arguments as an object")
        _check_flags(spec, ("enabled",), at, add)
        _check_unique(spec.get("key"), seen, "schedule", f"{at}/key", add)


def _check_tag_groups(groups: Any, add: Add) -> None:
    group_keys: set[str] = set()
    tag_keys: set[str] = set()
    key_hint = "use 1-64 lower-case letters, digits or '_', starting with a letter"
    for at, group in _objects(groups, "/tag_groups", add,
                              '{"key": "risk", "label": {...}, "tags": [...]}'):
        _unknown_keys(group, TAG_GROUP_KEYS, at, add)
        if not isinstance(group.get("key"), str) or not _TAG_KEY.match(group["key"]):
            add(f"{at}/key", f"{key_hint}, e.g. 'risk_flags'")
        _check_unique(group.get("key"), group_keys, "tag group", f"{at}/key", add)
        _check_label(group.get("label"), f"{at}/label", add)
        _check_flags(group, ("exclusive", "manual"), at, add)
        roles = group.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            add(f"{at}/roles", 'list the role keys that may set the tags by hand, e.g. '
                '["risk_officer"]; leave it out for anyone who can read the record')
        _check_sort(group, at, add)
        if not isinstance(group.get("tags"), list):
            add(f"{at}/tags", 'list the group\'s tags, e.g. [{"key": "rating_a", "label": '
                '{"zh": "A级", "en": "Rating A"}}] (an empty list is allowed)')
            continue
        for tag_at, tag in _objects(group["tags"], f"{at}/tags", add,
                                    '{"key": "rating_a", "label": {...}}'):
            _unknown_keys(tag, TAG_KEYS, tag_at, add)
            if not isinstance(tag.get("key"), str) or not _TAG_KEY.match(tag["key"]):
                add(f"{tag_at}/key", f"{key_hint}, e.g. 'rating_a'")
            _check_unique(tag.get("key"), tag_keys, "tag", f"{tag_at}/key", add)
            _check_label(tag.get("label"), f"{tag_at}/label", add)
            if "color" in tag and (not isinstance(tag["color"], str)
                                   or not _COLOR.match(tag["color"])):
                add(f"{tag_at}/color", "use a colour like '#1f8a4c'")
            _check_sort(tag, tag_at, add)
            _check_flags(tag, ("active",), tag_at, add)


def _check_templates(templates: Any, forms: set[str], add: Add) -> None:
    from lendbase.work.notifications import MAX_BODY, ChannelKind, check_template_text

    channels = [c.value for c in ChannelKind]
    seen: set[str] = set()
    for at, spec in _objects(templates, "/notification_templates", add,
                             '{"key": "due_reminder", "label": {...}, "channel": "sms", '
                             '"body": "..."}'):
        _unknown_keys(spec, TEMPLATE_KEYS, at, add)
        if not isinstance(spec.get("key"), str) or not _TEMPLATE_KEY.match(spec["key"]):
            add(f"{at}/key", "use 1-64 letters, digits or '_', starting with a letter, e.g. "
                "'due_reminder'")
        _check_unique(spec.get("key"), seen, "notification template", f"{at}/key", add)
        _check_label(spec.get("label"), f"{at}/label", add)
        if spec.get("channel") not in channels:
            add(f"{at}/channel", f"use one of {', '.join(channels)}")
        body = spec.get("body")
        if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
            add(f"{at}/body", f"write a body of 1-{MAX_BODY} characters (Jinja2 over the "
                "record's fields, e.g. '{{ name }}您好')")
        for name in ("body", "subject"):
            text = spec.get(name)
            if name == "subject" and text is not None and not isinstance(text, str):
                add(f"{at}/subject", "write the subject as text, or leave it out")
            elif isinstance(text, str):
                try:
                    check_template_text(text, name)
                except ValidationFailed as exc:
                    for message in exc.fields.get(name, []):
                        add(f"{at}/{name}", message)
        form_key = spec.get("form_key")
        if form_key is not None and form_key not in forms:
            add(f"{at}/form_key", f"form {form_key!r} is neither one of the app's forms nor "
                f"published: use one of {', '.join(sorted(forms)) or '(none)'}, or leave it out")
        _check_flags(spec, ("active",), at, add)


__all__ = ["DOCUMENT_KINDS", "MANIFEST_KEYS", "AppContents", "escape", "read_app",
           "read_manifest"]
