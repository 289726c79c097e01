"""The list page of a form: columns, sortable headers, search, filters and keyset paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from lendbase.errors import ValidationFailed
from lendbase.forms.model import FieldDef
from lendbase.records.export import ExportResult, export_records
from lendbase.web.context import (
    compiled_schema,
    current_actor,
    db_session,
    record_service,
    state,
)
from lendbase.web.display import (
    Lookups,
    column_label,
    field_is_numeric,
    format_system,
    format_value,
)
from lendbase.web.i18n import current_lang, pick, translate
from lendbase.web.listing import (
    PAGE_SIZE,
    build_filters,
    list_columns,
    parse_sort,
    sortable_columns,
)

lists_bp = Blueprint("lists", __name__, template_folder="templates")


@dataclass
class Column:
    key: str
    label: str
    numeric: bool
    sort_url: str | None
    sort_state: str  # "asc" | "desc" | ""


@dataclass
class Row:
    id: int
    url: str
    cells: list[Markup]


def _args_without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k not in names and v != ""}


def _list_url(form_key: str, **params: Any) -> str:
    return url_for("lists.list_records", form_key=form_key, **params)


@lists_bp.route("/f/<form_key>")
def list_records(form_key: str) -> str | Response:
    actor = current_actor()
    assert actor is not None
    lang = current_lang()
    service = record_service(actor)
    cf = service.compiled(form_key)
    form = cf.form
    access = service.access(form_key)
    access.require("read", form, lang)
    session = db_session()
    controls, where = build_filters(session, service, form, access, request.args, lang)
    search = (request.args.get("q") or "").strip()
    sort = parse_sort(form, request.args.get("sort"))
    after = request.args.get("after") or None
    try:
        page = service.list_page(form_key, where=where, search=search or None, order_by=sort,
                            after=after, limit=PAGE_SIZE)
    except ValidationFailed as exc:
        if after and "after" in exc.fields:  # a stale cursor: start again from the top
            return redirect(_list_url(form_key, **_args_without("after")))
        raise
    fields: dict[str, FieldDef] = {f.key: f for f in form.fields}
    keys = list_columns(form, access)
    lookups = Lookups(session, compiled_schema(), actor).load(
        [fields[k] for k in keys if k in fields], page.items)

    effective = sort or list(form.default_sort) or ["-id"]
    first = effective[0] if effective else ""
    sortable = sortable_columns(form)
    base = _args_without("after", "sort")
    columns: list[Column] = []
    for key in keys:
        state = "asc" if first == key else "desc" if first == f"-{key}" else ""
        url = None
        if key in sortable:
            next_sort = f"-{key}" if state == "asc" else key
            url = _list_url(form_key, **base, sort=next_sort)
        f = fields.get(key)
        columns.append(Column(key, column_label(fields, key, lang),
                              bool(f and field_is_numeric(f)), url, state))

    title_key = form.title_field if form.title_field in keys else (keys[0] if keys else None)
    rows: list[Row] = []
    for item in page.items:
        record_url = url_for("record_pages.view_record", form_key=form_key, record_id=item["id"])
        cells: list[Markup] = []
        for key in keys:
            f = fields.get(key)
            if f is None:
                cell = format_system(key, item.get(key), lookups)
            else:
                cell = format_value(f, item.get(key), lookups, lang, link=key != title_key)
            if key == title_key:
                cell = Markup('<a class="fw-medium" href="{}">{}</a>').format(record_url, cell)
            cells.append(cell)
        rows.append(Row(item["id"], record_url, cells))

    filtered = bool(where or search)
    next_url = (_list_url(form_key, **_args_without("after"), after=page.next_cursor)
                if page.next_cursor else None)
    first_url = _list_url(form_key, **_args_without("after")) if after else None
    clear_url = _list_url(form_key, **({"sort": request.args["sort"]}
                                       if request.args.get("sort") else {}))
    return render_template(
        "list.html", form=form, form_label=pick(form.label, lang, form.key),
        form_description=pick(form.description, lang), columns=columns, rows=rows,
        controls=controls, search=search, sort=request.args.get("sort", ""),
        filtered=filtered, filters_open=any(c.active for c in controls),
        can_create=access.can("create"), next_url=next_url, first_url=first_url,
        clear_url=clear_url, has_search=bool(form.searchable_fields) or any(
            f.type == "auto_number" or f.has_lookup_hash for f in form.stored_fields),
        new_url=url_for("record_pages.new_record", form_key=form_key),
        can_export=access.can("export"),
        export_url=url_for("lists.export_records_file", form_key=form_key),
        export_params=sorted(_args_without("after").items()))


def export_download(result: ExportResult) -> Response:
    """The export as an attachment; the temporary file goes once the response is sent."""
    # send_file streams the file object itself (direct passthrough), so the server's close()
    # reaches it; a response.call_on_close callback would never run.
    size = result.path.stat().st_size
    response = send_file(result.open_once(), mimetype=result.content_type, as_attachment=True,
                         download_name=result.filename, etag=False, max_age=0)
    response.content_length = size
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Row-Count"] = str(result.row_count)
    return response


@lists_bp.route("/f/<form_key>/export", methods=["POST"])
def export_records_file(form_key: str) -> Response:
    """Download what the list shows (its filters, search and sort; every page) as CSV or
    XLSX. The modal of the list page posts here with the format and the reason."""
    actor = current_actor()
    assert actor is not None
    lang = current_lang()
    service = record_service(actor)
    form = service.compiled(form_key).form
    access = service.access(form_key)
    access.require("export", form, lang)
    session = db_session()
    _, where = build_filters(session, service, form, access, request.form, lang)
    search = (request.form.get("q") or "").strip()
    params = {k: v for k, v in request.form.items()
              if k not in {"csrf_token", "format", "reason"} and v != ""}
    try:
        result = export_records(
            session, compiled_schema(), actor, state().cipher, form_key, where=where,
            search=search or None, order_by=parse_sort(form, request.form.get("sort")),
            fmt=request.form.get("format", "xlsx"), lang=lang,
            reason=request.form.get("reason", ""))
    except ValidationFailed as exc:
        if "reason" not in exc.fields:
            raise
        flash(translate("export_reason_required", lang), "error")
        return redirect(_list_url(form_key, **params))
    return export_download(result)
