"""The form builder pages for administrators: the list of forms (new, copy) and the builder.

The builder itself is a page of ES modules (``static/js/builder/``) holding the form document;
it saves, publishes and restores through the metadata API (``/api/v1/meta/forms``). Two helper
endpoints live here because they render or word things for the page: the live preview (the real
record-form renderer applied to a posted, unsaved draft) and the dry-run plan in the UI language.
Neither writes anything.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from lendbase.auth.org import list_roles
from lendbase.errors import Conflict, LendBaseError, MetadataError, PermissionDenied
from lendbase.forms.model import check_form
from lendbase.forms.values import DEFAULT_TZ
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor, access_for
from lendbase.web.context import compiled_schema, current_actor, db_session, record_service
from lendbase.web.display import Lookups
from lendbase.web.home_views import app_form_order
from lendbase.web.i18n import MESSAGES, current_lang, pick, translate
from lendbase.web.record_views import option_source
from lendbase.web.widgets import build_form_page, default_values

builder_bp = Blueprint("builder", __name__, url_prefix="/admin/forms",
                       template_folder="templates")

KIND = "forms"
#: UI strings the builder's scripts use (``b_*`` keys of the catalogue), sent with the page.
_JS_PREFIX = "b_"
#: UI strings of the visual condition builder (``static/js/condition_builder.js``).
_CONDITION_PREFIX = "cb_"


@cache
def field_types() -> tuple[str, ...]:
    """Every field type of the meta-schema, in its order (the palette)."""
    text = resources.files("lendbase.meta").joinpath("schemas/form.schema.json").read_text("utf-8")
    return tuple(json.loads(text)["$defs"]["field_type"]["enum"])


def _require_admin() -> Actor:
    actor = current_actor()
    if actor is None or not actor.superuser:
        raise PermissionDenied(translate("b_admin_only"))
    return actor


def _store(actor: Actor) -> MetadataStore:
    return MetadataStore(db_session(), actor.user_id)


def new_form_document(key: str, label_zh: str, label_en: str) -> dict[str, Any]:
    """A new form: one required text field "name" in one section (a form needs a field)."""
    name = {"key": "name", "type": "text", "label": {"zh": "名称", "en": "Name"},
            "required": True}
    return {"key": key, "label": {"zh": label_zh, "en": label_en}, "title_field": "name",
            "fields": [name],
            "layout": {"sections": [{"key": "main", "label": {"zh": "基本信息", "en": "Basics"},
                                     "columns": 2, "fields": ["name"]}]}}


def copied_document(doc: Mapping[str, Any], new_key: str) -> dict[str, Any]:
    """A copy of ``doc`` under ``new_key``; references to the form itself follow the copy."""
    out = copy.deepcopy(dict(doc))
    old_key = out.get("key")
    out["key"] = new_key

    def retarget(fields: list[dict[str, Any]]) -> None:
        for f in fields:
            if f.get("type") == "reference" and f.get("target") == old_key:
                f["target"] = new_key
            if f.get("type") == "subtable":
                retarget(f.get("fields") or [])

    retarget(out.get("fields") or [])
    return out


# --- the list of forms ----------------------------------------------------------------------


def _render_list(errors: Mapping[str, list[str]] | None = None, message: str = "",
                 values: Mapping[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    lang = current_lang()
    rows = []
    for item in MetadataStore(db_session(), None).list_keys(KIND):
        rows.append({**item, "label_text": pick(item.get("label"), lang, item["key"])})
    # in the order staff see them in the navigation (each app's own order), then the rest
    position = {key: i for i, key in enumerate(app_form_order(db_session()))}
    rows.sort(key=lambda r: (position.get(r["key"], len(position)), r["label_text"]))
    return render_template("admin_forms.html", forms=rows, errors=dict(errors or {}),
                           message=message, values=dict(values or {})), status


@builder_bp.route("")
def forms_page() -> Any:
    _require_admin()
    return _render_list()


def _create(actor: Actor, doc: dict[str, Any], values: Mapping[str, str],
            form_name: str) -> Any:
    try:
        _store(actor).create(KIND, doc)
    except MetadataError as exc:
        errors = {f"{form_name}:{k}": v for k, v in exc.errors.items()}
        return _render_list(errors, exc.message, {**values, "_form": form_name}, 422)
    except Conflict as exc:
        return _render_list({f"{form_name}:/key": [exc.message]}, exc.message,
                            {**values, "_form": form_name}, 409)
    flash(translate("b_created"), "success")
    return redirect(url_for("builder.builder_page", key=doc["key"]))


@builder_bp.route("/new", methods=["POST"])
def create_form() -> Any:
    actor = _require_admin()
    values = {k: (request.form.get(k) or "").strip() for k in ("key", "label_zh", "label_en")}
    doc = new_form_document(values["key"], values["label_zh"], values["label_en"])
    return _create(actor, doc, values, "new")


@builder_bp.route("/<key>/copy", methods=["POST"])
def copy_form(key: str) -> Any:
    actor = _require_admin()
    new_key = (request.form.get("new_key") or "").strip()
    source = _store(actor).get_draft(KIND, key)
    return _create(actor, copied_document(source.doc, new_key),
                   {"new_key": new_key, "source": key}, f"copy-{key}")


# --- the builder ----------------------------------------------------------------------------


def _published_forms(lang: str) -> list[dict[str, Any]]:
    return [{"key": v.key, "label": pick(v.doc.get("label"), lang, v.key), "version": v.version}
            for v in MetadataStore(db_session(), None).all_published(KIND)]


def _field_keys(doc: Mapping[str, Any]) -> list[str]:
    """The keys of a form document's fields, sub-table columns as ``table.column``."""
    keys = []
    for f in doc.get("fields", ()):
        keys.append(f["key"])
        keys += [f"{f['key']}.{c['key']}" for c in f.get("fields", ()) or ()]
    return keys


def _js_strings(lang: str, prefix: str = _JS_PREFIX) -> dict[str, str]:
    return {k[len(prefix):]: translate(k, lang) for k in MESSAGES if k.startswith(prefix)}


def condition_builder_strings(lang: str) -> dict[str, str]:
    """The ``strings`` option of the condition builder script (``cb_*`` keys, unprefixed), for
    any page that embeds it."""
    return _js_strings(lang, _CONDITION_PREFIX)


@builder_bp.route("/<key>/builder")
def builder_page(key: str) -> Any:
    _require_admin()
    lang = current_lang()
    store = MetadataStore(db_session(), None)
    draft = store.get_draft(KIND, key)
    latest = store.published(KIND, key)
    from lendbase.web.lifecycle_views import lifecycle_builder_boot

    boot = {
        "key": key,
        "doc": draft.doc,
        "lock_version": draft.lock_version,
        "published_version": latest.version if latest else None,
        # keys with data behind them: a label edit never renames these (state.keyFromLabel)
        "published_keys": _field_keys(latest.doc) if latest else [],
        "published_forms": _published_forms(lang),
        "field_types": field_types(),
        "roles": [{"key": r.key, "label": dict(r.label), "is_superuser": r.is_superuser}
                  for r in list_roles(db_session())],
        "type_labels": {t: MESSAGES[f"b_type_{t}"] for t in field_types()},
        "labels": {"new_section": MESSAGES["b_new_section"], "new_tab": MESSAGES["b_new_tab"],
                   "first_tab": {"zh": "基本信息", "en": "Basics"}},
        "lang": lang,
        "tz": DEFAULT_TZ.key,  # times are shown in the platform's zone, as on record pages
        "strings": _js_strings(lang),
        "condition_strings": condition_builder_strings(lang),
        "lifecycle": lifecycle_builder_boot(lang),  # strings and users of the Lifecycle block
        "urls": {
            "api": url_for("builder.forms_page").replace("/admin/forms", "/api/v1/meta/forms"),
            "preview": url_for("builder.preview", key=key),
            "plan": url_for("builder.plan", key=key),
            "records_new": url_for("record_pages.new_record", form_key=key),
            "records": url_for("record_pages.new_record", form_key=key).rsplit("/", 1)[0],
            "forms": url_for("builder.forms_page"),
        },
    }
    boot_json = json.dumps(boot, ensure_ascii=False, default=str).replace("</", "<\\/")
    return render_template("builder.html", key=key, minimal=True,
                           form_label=pick(draft.doc.get("label"), lang, key),
                           published_version=boot["published_version"], boot_json=boot_json)


def _posted_doc() -> dict[str, Any]:
    body = request.get_json(silent=True)
    doc = body.get("doc") if isinstance(body, dict) else None
    if not isinstance(doc, dict):
        raise MetadataError("send {\"doc\": <the form document>}",
                            {"": ["the request body must be a JSON object with 'doc'"]})
    return doc


@builder_bp.route("/<key>/builder/preview", methods=["POST"])
def preview(key: str) -> Any:
    """The record form of a posted draft, rendered by the real renderer; nothing is saved."""
    actor = _require_admin()
    lang = request.args.get("lang", "")
    if lang not in {"zh", "en"}:
        lang = current_lang()
    errors: dict[str, list[str]] = {}
    page = None
    try:
        form = check_form(_posted_doc())
    except MetadataError as exc:
        errors = exc.errors or {"": [exc.message]}
    else:
        lookups = Lookups(db_session(), compiled_schema(), actor).load([], [])
        page = build_form_page(form, access_for(actor, form), actor, lang,
                               default_values(form), {}, lookups,
                               option_source(record_service(actor)), creating=True)

    def _(text_key: str, lang_: str | None = None, **params: Any) -> str:
        return translate(text_key, lang_ or lang, **params)

    return render_template("builder_preview.html", page=page, errors=errors, lang=lang,
                           html_lang="zh-CN" if lang == "zh" else "en", _=_,
                           pick=lambda label, lang_=None, fallback="": pick(
                               label, lang_ or lang, fallback))


@builder_bp.route("/<key>/builder/plan", methods=["POST"])
def plan(key: str) -> Any:
    """The dry-run of publishing the saved draft, worded in the UI language."""
    from lendbase.forms.publish import publish_form

    actor = _require_admin()
    body = request.get_json(silent=True) or {}
    backfill = body.get("backfill") if isinstance(body, dict) else None
    lang = current_lang()
    try:
        result = publish_form(db_session(), actor.user_id, key, dry_run=True,
                              backfill=backfill or None)
    except MetadataError as exc:
        return {"error": {"code": exc.code, "message": exc.message,
                          "fields": exc.errors}}, 422
    except LendBaseError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}, 409
    finally:
        db_session().rollback()  # a dry run writes nothing; make sure of it
    return result.to_dict(lang)


__all__ = ["builder_bp", "condition_builder_strings", "copied_document", "new_form_document"]
