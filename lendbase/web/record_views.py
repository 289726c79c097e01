"""One record: its page (values and audit history), the create and edit forms, delete, and
showing a masked sensitive value to a user with the unmask right (asks a reason, logged)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from lendbase.errors import Conflict, NotFound, ValidationFailed
from lendbase.forms.compile import CompiledForm
from lendbase.forms.messages import catalog_for
from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.values import MAX_YEAR, MIN_YEAR
from lendbase.records.permissions import Actor, FormAccess
from lendbase.records.service import RecordService
from lendbase.web.context import (
    compiled_schema,
    current_actor,
    db_session,
    record_service,
    state,
)
from lendbase.web.display import Lookups, format_datetime, format_value
from lendbase.web.errors import error_page, json_error, wants_json
from lendbase.web.files import upload_store
from lendbase.web.i18n import current_lang, pick, translate
from lendbase.web.listing import reference_options, user_options
from lendbase.web.widgets import (
    OptionSource,
    Submission,
    build_form_page,
    client_rules,
    default_values,
    editable_keys,
    input_values,
    parse_submission,
)

records_bp = Blueprint("record_pages", __name__, template_folder="templates")


# --- shared helpers ---------------------------------------------------------------------------


def _context(form_key: str) -> tuple[Actor, RecordService, CompiledForm, FormAccess, str]:
    actor = current_actor()
    assert actor is not None  # the sign-in guard runs before every page
    service = record_service(actor)
    cf = service.compiled(form_key)
    return actor, service, cf, service.access(form_key), current_lang()


def option_source(service: RecordService) -> OptionSource:
    """Options of reference and user selects, loaded once per target for the page."""
    cache: dict[str, list[tuple[str, str]]] = {}

    def options(f: FieldDef) -> list[tuple[str, str]]:
        key = "user" if f.type == "user" else f"ref:{f.target}"
        if key not in cache:
            cache[key] = (user_options(db_session()) if f.type == "user"
                          else reference_options(service, f.target or ""))
        return cache[key]

    return options


def _lookups(actor: Actor, form: FormDef, items: list[Mapping[str, Any]]) -> Lookups:
    fields = list(form.fields)
    for f in form.subtables:
        fields.extend(f.fields)
        rows = [row for item in items for row in (item.get(f.key) or [])
                if isinstance(row, Mapping)]
        items = [*items, *rows]
    return Lookups(db_session(), compiled_schema(), actor).load(fields, items)


def _has_files(form: FormDef) -> bool:
    return any(f.type == "file" for f in form.fields) or any(
        sf.type == "file" for f in form.subtables for sf in f.fields)


def _forget_uploads(sub: Submission, previous: Mapping[str, Any], lang: str) -> None:
    """A failed save rolls back the new lb_file rows: do not offer their ids again."""
    for name in sub.new_files:
        parts = name.split(".")
        if len(parts) == 3 and isinstance(sub.raw.get(parts[0]), list):
            rows = sub.raw[parts[0]]
            index = int(parts[1])
            if index < len(rows):
                rows[index][parts[2]] = ""
        else:
            sub.raw[name] = str(previous.get(name) or "")
        sub.errors.setdefault(name, []).append(translate("reupload_file", lang))


def _merge_errors(*sources: Mapping[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for source in sources:
        for key, messages in source.items():
            bucket = merged.setdefault(key, [])
            bucket.extend(m for m in messages if m not in bucket)
    return merged


#: UI strings the form's scripts use (validation summary, uploads), in the page's language.
_SCRIPT_TEXTS = ("error_summary", "fv_uploading", "fv_upload_progress", "fv_upload_cancel",
                 "fv_upload_cancelled", "fv_uploaded", "fv_upload_failed", "fv_upload_pending")


def _client_validation(form: FormDef, access: FormAccess, lang: str) -> dict[str, Any]:
    """What record_form.js needs to check the form as the server would: the rules of every
    field, the server's message catalogue in the page's language, and where files go."""
    settings = state().settings
    request_max = current_app.config.get("MAX_CONTENT_LENGTH")
    return {
        "lang": lang,
        "catalog": catalog_for(lang),
        "texts": {key: translate(key, lang) for key in _SCRIPT_TEXTS},
        "separator": "：" if lang == "zh" else ": ",
        "years": [MIN_YEAR, MAX_YEAR],
        "fields": client_rules(form, access, lang, settings.upload_max_bytes),
        "upload": {"url": url_for("files_api.upload"), "form": form.key,
                   "download": url_for("files.download", file_id=0).rsplit("/", 1)[0] + "/"},
        "limits": {"request_max_bytes": (int(request_max) - 64 * 1024) if request_max else None,
                   "platform_max_mb": f"{round(settings.upload_ceiling_bytes / 1024 / 1024, 1)}"},
    }


def _render_form(cf: CompiledForm, access: FormAccess, actor: Actor, lang: str,
                 service: RecordService, values: Mapping[str, Any],
                 errors: Mapping[str, list[str]], creating: bool,
                 record: Mapping[str, Any] | None = None, version: int | None = None,
                 status: int = 200) -> tuple[str, int]:
    form = cf.form
    items: list[Mapping[str, Any]] = [dict(values)]
    if record is not None:
        items.append(record)
    lookups = _lookups(actor, form, items)
    page = build_form_page(form, access, actor, lang, values, errors, lookups,
                           option_source(service), creating, stored=record)
    label = pick(form.label, lang, form.key)
    title = translate("new_title" if creating else "edit_title", lang, form=label)
    action = (url_for("record_pages.new_record", form_key=form.key) if creating else
              url_for("record_pages.edit_record", form_key=form.key, record_id=record["id"]))
    cancel = (url_for("lists.list_records", form_key=form.key) if creating else
              url_for("record_pages.view_record", form_key=form.key, record_id=record["id"]))
    return render_template(
        "form.html", form=form, form_label=label, title=title, page=page, action=action,
        cancel_url=cancel, version=version, creating=creating, multipart=_has_files(form),
        record=record, record_title=form.title_of(record) if record else "",
        validation=_client_validation(form, access, lang)), status


# --- list -> new ------------------------------------------------------------------------------


@records_bp.route("/f/<form_key>/new", methods=["GET", "POST"])
def new_record(form_key: str) -> Any:
    actor, service, cf, access, lang = _context(form_key)
    access.require("create", cf.form, lang)
    if request.method == "GET":
        return _render_form(cf, access, actor, lang, service, default_values(cf.form), {},
                            creating=True)
    uploads = upload_store(form_key, actor, lang)
    keys = editable_keys(cf.form, access, actor, creating=True)
    sub = parse_submission(cf.form, keys, request.form, request.files, uploads.save)
    try:
        record = service.create(form_key, sub.data)
        if sub.errors:
            raise ValidationFailed({})
    except ValidationFailed as exc:
        uploads.discard()
        _forget_uploads(sub, {}, lang)
        errors = _merge_errors(exc.fields, sub.errors)
        return _render_form(cf, access, actor, lang, service, sub.raw, errors, creating=True,
                            status=422)
    flash(translate("created", lang), "success")
    return redirect(url_for("record_pages.view_record", form_key=form_key, record_id=record["id"]))


# --- the record page ------------------------------------------------------------------------


def _history_view(form: FormDef, entries: list[dict[str, Any]], lookups: Lookups,
                  lang: str) -> list[dict[str, Any]]:
    fields = {f.key: f for f in form.fields}
    view = []
    for entry in entries:
        changes = []
        for key, pair in (entry.get("changes") or {}).items():
            before, after = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            f = fields.get(key)
            if f is None:
                changes.append((key, str(before or ""), str(after or "")))
                continue
            changes.append((pick(f.label, lang, key), format_value(f, before, lookups, lang),
                            format_value(f, after, lookups, lang)))
        view.append({"action": translate(f"action_{entry['action']}", lang),
                     "kind": entry["action"], "version": entry["version"],
                     "at": format_datetime(entry["at"]), "actor": entry["actor"],
                     "changes": changes})
    return view


def _render_record(form_key: str, record_id: int, revealed: Mapping[str, Any] | None = None,
                   unmask_errors: Mapping[str, list[str]] | None = None,
                   status: int = 200) -> tuple[str, int]:
    actor, service, cf, access, lang = _context(form_key)
    form = cf.form
    record = service.get(form_key, record_id)
    history = service.history(form_key, record_id)
    history_items: list[Mapping[str, Any]] = []
    for entry in history:
        for key, pair in (entry.get("changes") or {}).items():
            if isinstance(pair, list):
                history_items.extend({key: v} for v in pair)
    lookups = _lookups(actor, form, [record, *history_items])
    page = build_form_page(form, access, actor, lang, input_values(form, record), {}, lookups,
                           lambda f: [], creating=False, stored=record, display_only=True)
    return render_template(
        "record.html", form=form, form_label=pick(form.label, lang, form.key), record=record,
        record_title=form.title_of(record), page=page,
        history=_history_view(form, history, lookups, lang),
        can_update=access.can("update"), can_delete=access.can("delete"),
        can_unmask=access.unmask, revealed=dict(revealed or {}),
        unmask_errors=dict(unmask_errors or {}),
        created_at=format_datetime(record.get("created_at")),
        updated_at=format_datetime(record.get("updated_at")),
        owner=lookups.user(record.get("owner_id")),
    ), status


@records_bp.route("/f/<form_key>/<int:record_id>")
def view_record(form_key: str, record_id: int) -> Any:
    return _render_record(form_key, record_id)


# --- edit and delete --------------------------------------------------------------------------


def _conflict_page(form_key: str, record_id: int, service: RecordService, yours: int,
                   exc: Conflict, lang: str) -> tuple[str, int]:
    edit_url = url_for("record_pages.edit_record", form_key=form_key, record_id=record_id)
    view_url = url_for("record_pages.view_record", form_key=form_key, record_id=record_id)
    try:
        current = service.get(form_key, record_id)
    except NotFound:
        return error_page(409, translate("error_409_title", lang),
                          translate("error_409_gone", lang),
                          actions=[(translate("back_to_list", lang),
                                    url_for("lists.list_records", form_key=form_key))])
    if current["version"] == yours:  # not a stale version: a constraint said no
        return error_page(409, translate("error_409_title", lang),
                          translate("error_409_generic", lang), detail=exc.message,
                          actions=[(translate("reload_record", lang), edit_url)])
    return error_page(409, translate("error_409_title", lang),
                      translate("error_409_body", lang, current=current["version"], yours=yours),
                      actions=[(translate("reload_record", lang), edit_url),
                               (translate("view", lang), view_url)],
                      conflict=True)


def _posted_version() -> int:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        raise ValidationFailed({"version": [
            "the form did not send the record's version; reload the page"]}) from None


@records_bp.route("/f/<form_key>/<int:record_id>/edit", methods=["GET", "POST"])
def edit_record(form_key: str, record_id: int) -> Any:
    actor, service, cf, access, lang = _context(form_key)
    access.require("update", cf.form, lang)
    record = service.get(form_key, record_id)
    stored_inputs = input_values(cf.form, record)
    if request.method == "GET":
        return _render_form(cf, access, actor, lang, service, stored_inputs, {},
                            creating=False, record=record, version=record["version"])
    version = _posted_version()
    uploads = upload_store(form_key, actor, lang)
    keys = editable_keys(cf.form, access, actor, creating=False)
    sub = parse_submission(cf.form, keys, request.form, request.files, uploads.save)
    data = dict(sub.data)
    for f in cf.form.subtables:  # an untouched sub-table is left out: nothing to rewrite
        if f.key in data and sub.raw.get(f.key) == stored_inputs.get(f.key, []):
            data.pop(f.key)
    for f in cf.form.fields:  # a date-time posted as shown keeps its stored precision
        if f.type == "datetime" and f.key in data and sub.raw.get(f.key) == stored_inputs.get(
                f.key):
            data.pop(f.key)
    try:
        service.update(form_key, record_id, data, expected_version=version)
        if sub.errors:
            raise ValidationFailed({})
    except Conflict as exc:
        uploads.discard()
        return _conflict_page(form_key, record_id, service, version, exc, lang)
    except ValidationFailed as exc:
        uploads.discard()
        _forget_uploads(sub, stored_inputs, lang)
        errors = _merge_errors(exc.fields, sub.errors)
        values = {**stored_inputs, **sub.raw}
        return _render_form(cf, access, actor, lang, service, values, errors, creating=False,
                            record=record, version=version, status=422)
    flash(translate("updated", lang), "success")
    return redirect(url_for("record_pages.view_record", form_key=form_key, record_id=record_id))


@records_bp.route("/f/<form_key>/<int:record_id>/delete", methods=["POST"])
def delete_record(form_key: str, record_id: int) -> Any:
    _actor, service, cf, access, lang = _context(form_key)
    access.require("delete", cf.form, lang)
    version = _posted_version()
    try:
        service.delete(form_key, record_id, expected_version=version)
    except Conflict as exc:
        return _conflict_page(form_key, record_id, service, version, exc, lang)
    flash(translate("deleted", lang), "success")
    return redirect(url_for("lists.list_records", form_key=form_key))


# --- unmask -----------------------------------------------------------------------------------


@records_bp.route("/f/<form_key>/<int:record_id>/unmask/<field_key>", methods=["POST"])
def unmask_field(form_key: str, record_id: int, field_key: str) -> Any:
    actor, service, cf, _access, lang = _context(form_key)
    reason = (request.form.get("reason") or "").strip()
    try:
        value = service.unmask(form_key, record_id, field_key, reason)
    except ValidationFailed as exc:
        if wants_json():
            return json_error("validation_failed", exc.message, 422, exc.fields)
        return _render_record(form_key, record_id, unmask_errors={field_key: exc.fields.get(
            "reason", [exc.message])}, status=422)
    shown = "" if value is None else str(value)
    if wants_json():
        response = jsonify({"field": field_key, "value": shown})
    else:
        response = make_response(_render_record(form_key, record_id,
                                                revealed={field_key: shown})[0])
    response.headers["Cache-Control"] = "no-store"
    return response
