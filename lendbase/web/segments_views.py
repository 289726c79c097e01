"""The segment pages: the list of segments (members now, moves today), a segment's members
page (the form's list, restricted to the members, with its filters, search, sort and keyset
paging; tabs for the entered / left history and the counts over time) and, for
administrators, the segment builder (condition, schedule, actions, simulate, save, publish).

The builder is a page of ES modules (``static/js/segments/``) over the metadata API
(``/api/v1/meta/segments``) and the segments API (``/api/v1/segments/<key>/simulate``).
Registering the blueprint also subscribes the record-change handler of segments to the app's
job runtime (``lendbase.segments.jobs.subscribe``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup
from werkzeug.wrappers import Response

from lendbase.errors import Conflict, MetadataError, PermissionDenied, ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.model import FieldDef, FormDef
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.segments import (
    MemberListService,
    counts_between,
    history_page,
    overview,
)
from lendbase.segments.engine import business_day, latest_counts
from lendbase.segments.model import DEFAULT_SCHEDULE, KIND, SegmentDef
from lendbase.segments.queries import find_segment
from lendbase.web.builder_views import condition_builder_strings
from lendbase.web.context import compiled_schema, current_actor, db_session, record_service, state
from lendbase.web.display import (
    Lookups,
    column_label,
    field_is_numeric,
    format_system,
    format_value,
)
from lendbase.web.i18n import current_lang, pick
from lendbase.web.list_views import Column, Row
from lendbase.web.listing import (
    PAGE_SIZE,
    build_filters,
    list_columns,
    parse_sort,
    sortable_columns,
)
from lendbase.web.rules_views import action_catalogues, action_fields, editor_strings

segments_bp = Blueprint("segments_pages", __name__, template_folder="templates")

#: The strings of these pages (the builder's scripts get the ``js_*`` ones, unprefixed).
MESSAGES: dict[str, dict[str, str]] = {
    "title": {"zh": "客群", "en": "Segments"},
    "intro": {"zh": "客群是满足条件的一组记录，按计划和记录变化自动更新；"
                    "进入和离开客群时可以自动创建任务、打标签。",
              "en": "A segment is the set of records that meet its condition, kept up to date on "
                    "a schedule and as records change; entering and leaving can create tasks "
                    "and set tags."},
    "col_segment": {"zh": "客群", "en": "Segment"},
    "col_form": {"zh": "表单", "en": "Form"},
    "col_members": {"zh": "当前成员", "en": "Members now"},
    "col_entered_today": {"zh": "今日进入", "en": "Entered today"},
    "col_left_today": {"zh": "今日离开", "en": "Left today"},
    "col_computed": {"zh": "最近计算", "en": "Last computed"},
    "col_status": {"zh": "状态", "en": "Status"},
    "not_computed": {"zh": "尚未计算", "en": "not computed yet"},
    "draft_only": {"zh": "草稿（未发布）", "en": "Draft (not published)"},
    "published_v": {"zh": "已发布 v{n}", "en": "Published v{n}"},
    "edit": {"zh": "编辑", "en": "Edit"},
    "no_segments": {"zh": "还没有客群。", "en": "No segment yet."},
    "new_segment": {"zh": "新建客群", "en": "New segment"},
    "key": {"zh": "标识（英文）", "en": "Key"},
    "key_hint": {"zh": "小写字母、数字和下划线，以字母开头", "en": "lower-case letters, digits and "
                                                          "underscores, starting with a letter"},
    "label_zh": {"zh": "中文名称", "en": "Name (Chinese)"},
    "label_en": {"zh": "英文名称", "en": "Name (English)"},
    "form": {"zh": "基于表单", "en": "Form"},
    "create": {"zh": "创建并设计", "en": "Create and design"},
    "created": {"zh": "客群已创建，请设置条件", "en": "Segment created: set its condition"},
    "not_created": {"zh": "未创建：", "en": "Not created:"},
    "tab_members": {"zh": "成员", "en": "Members"},
    "tab_history": {"zh": "进出记录", "en": "Entered / left"},
    "tab_counts": {"zh": "数量变化", "en": "Counts over time"},
    "members_n": {"zh": "当前 {n} 名成员", "en": "{n} members now"},
    "moves_today": {"zh": "今日进入 {entered}，离开 {left}", "en": "today {entered} entered, "
                                                                "{left} left"},
    "computed_on": {"zh": "计算于 {day}", "en": "computed {day}"},
    "recompute": {"zh": "重新计算", "en": "Recompute"},
    "recompute_queued": {"zh": "已安排重新计算，稍后刷新页面查看", "en": "Recompute queued: reload "
                                                                     "the page in a moment"},
    "event": {"zh": "变化", "en": "Change"},
    "entered": {"zh": "进入", "en": "Entered"},
    "left": {"zh": "离开", "en": "Left"},
    "at": {"zh": "时间", "en": "When"},
    "record": {"zh": "记录", "en": "Record"},
    "version": {"zh": "客群版本", "en": "Segment version"},
    "deleted": {"zh": "（已删除）", "en": "(deleted)"},
    "no_history": {"zh": "还没有进出记录。", "en": "Nothing entered or left yet."},
    "older": {"zh": "更早", "en": "Older"},
    "newest": {"zh": "最新", "en": "Newest"},
    "day": {"zh": "日期", "en": "Day"},
    "members": {"zh": "成员数", "en": "Members"},
    "no_counts": {"zh": "还没有统计。", "en": "No counts yet."},
    "from": {"zh": "从", "en": "From"},
    "to": {"zh": "到", "en": "To"},
    "show": {"zh": "显示", "en": "Show"},
    "no_members": {"zh": "客群里还没有成员", "en": "The segment has no member yet"},
    "no_members_match": {"zh": "没有符合筛选的成员", "en": "No member matches the filters"},
    "admin_only": {"zh": "只有管理员可以设计客群", "en": "Only administrators design segments"},
    "builder_title": {"zh": "客群设计", "en": "Segment builder"},
    "back": {"zh": "客群列表", "en": "Segments"},
    "members_page": {"zh": "查看成员", "en": "See members"},
    "js_basics": {"zh": "基本信息", "en": "Basics"},
    "js_label_zh": {"zh": "中文名称", "en": "Name (Chinese)"},
    "js_label_en": {"zh": "英文名称", "en": "Name (English)"},
    "js_description": {"zh": "说明", "en": "Description"},
    "js_form": {"zh": "基于表单", "en": "Form"},
    "js_form_change": {"zh": "更换表单会清空条件中不再适用的部分。",
                       "en": "Changing the form clears the parts of the condition that no "
                             "longer apply."},
    "js_condition": {"zh": "进入条件", "en": "Condition"},
    "js_condition_hint": {"zh": "满足条件的记录即为客群成员；可以加入“关联记录”条件"
                                "（如：近12个月没有逾期的还款计划）。",
                          "en": "Records meeting the condition are the members; add related-"
                                "record conditions such as \"no installment overdue in the last "
                                "12 months\"."},
    "js_schedule": {"zh": "定时全量计算", "en": "Scheduled recompute"},
    "js_cron": {"zh": "Cron 表达式", "en": "Cron expression"},
    "js_cron_hint": {"zh": "分 时 日 月 周，如 0 2 * * *（每天 02:00）。"
                           "记录变化时会即时更新相关成员。",
                     "en": "minute hour day month weekday, e.g. 0 2 * * * (every day at 02:00). "
                           "Record changes update the members they affect at once."},
    "js_timezone": {"zh": "时区", "en": "Time zone"},
    "js_enabled": {"zh": "启用定时计算", "en": "Run on schedule"},
    "js_on_enter": {"zh": "进入时的动作", "en": "When a record enters"},
    "js_on_leave": {"zh": "离开时的动作", "en": "When a record leaves"},
    "js_actions_hint": {"zh": "与业务规则相同的动作（创建任务、打标签、预警、通知…），"
                              "对进入或离开客群的记录执行；每次进入都会新建任务。",
                        "en": "The same actions as the rules (create a task, add a tag, raise "
                              "an alert, notify...), run for the records that enter or leave; "
                              "each entry makes a new task."},
    "js_actions_json": {"zh": "动作（JSON 数组）", "en": "Actions (a JSON array)"},
    "js_actions_json_bad": {"zh": "不是有效的 JSON 数组：{problem}", "en": "not a valid JSON "
                                                                       "array: {problem}"},
    "js_actions_count": {"zh": "{n} 个动作", "en": "{n} action(s)"},
    "js_simulate": {"zh": "模拟", "en": "Simulate"},
    "js_as_of": {"zh": "按日期模拟（可选）", "en": "As of (optional)"},
    "js_as_of_hint": {"zh": "相对日期按该日计算，字段取当前值", "en": "relative dates as of that "
                                                                 "day; field values are today's"},
    "js_simulating": {"zh": "正在模拟…", "en": "Simulating…"},
    "js_sim_members": {"zh": "将有 {n} 名成员", "en": "{n} would be members"},
    "js_sim_cap_members": {"zh": "成员", "en": "members"},
    "js_sim_cap_entering": {"zh": "进入", "en": "enter"},
    "js_sim_cap_leaving": {"zh": "离开", "en": "leave"},
    "js_sim_current": {"zh": "当前 {n} 名", "en": "{n} now"},
    "js_sim_entering": {"zh": "将进入 {n}", "en": "{n} would enter"},
    "js_sim_leaving": {"zh": "将离开 {n}", "en": "{n} would leave"},
    "js_sim_sample_members": {"zh": "成员示例", "en": "Sample of members"},
    "js_sim_sample_entering": {"zh": "进入示例", "en": "Sample entering"},
    "js_sim_sample_leaving": {"zh": "离开示例", "en": "Sample leaving"},
    "js_sim_none": {"zh": "无", "en": "none"},
    "js_sim_actions": {"zh": "进入时的动作将影响", "en": "The on-enter actions would affect"},
    "js_sim_action": {"zh": "动作 {i}（{type}）：{n} 条记录", "en": "action {i} ({type}): {n} "
                                                                "record(s)"},
    "js_sim_unpublished": {"zh": "尚未发布：发布后这些记录将进入客群。", "en": "Not published yet: "
                                                                        "these records enter on "
                                                                        "publish."},
    "js_save": {"zh": "保存草稿", "en": "Save draft"},
    "js_saving": {"zh": "正在保存…", "en": "Saving…"},
    "js_saved": {"zh": "已保存", "en": "Saved"},
    "js_unsaved": {"zh": "有未保存的修改", "en": "Unsaved changes"},
    "js_publish": {"zh": "发布", "en": "Publish"},
    "js_published": {"zh": "已发布 v{n}，正在计算成员", "en": "Published v{n}; computing the "
                                                             "members"},
    "js_unchanged": {"zh": "与已发布版本相同，无需发布", "en": "Same as the published version: "
                                                             "nothing to publish"},
    "js_conflict": {"zh": "草稿已被他人修改。请重新加载后再改。", "en": "Someone else changed the "
                                                                   "draft. Reload it and apply "
                                                                   "your change again."},
    "js_reload": {"zh": "重新加载", "en": "Reload"},
    "js_errors": {"zh": "有 {n} 处问题需要修改", "en": "{n} problem(s) to fix"},
    "js_versions": {"zh": "版本历史", "en": "Versions"},
    "js_no_versions": {"zh": "尚未发布", "en": "Not published yet"},
    "js_version_row": {"zh": "v{n} · {at}", "en": "v{n} · {at}"},
    "js_draft_only": {"zh": "草稿", "en": "Draft"},
    "js_published_v": {"zh": "已发布 v{n}", "en": "Published v{n}"},
    "js_deleted": {"zh": "已删除", "en": "deleted"},
    "js_network": {"zh": "网络错误，请重试", "en": "Network error; try again"},
    "js_members_page": {"zh": "查看成员", "en": "See members"},
}


def st(key: str, **params: Any) -> str:
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


def _subscribe(setup: BlueprintSetupState) -> None:
    """Record changes move records in and out of segments: subscribe the handler to the app's
    job runtime (every process that builds the app, web and workers, does)."""
    from lendbase.jobs import EXTENSION
    from lendbase.segments.jobs import subscribe

    runtime = setup.app.extensions.get(EXTENSION)
    if runtime is not None:
        subscribe(runtime.subscribers)


segments_bp.record_once(_subscribe)


@segments_bp.app_context_processor
def _segment_globals() -> dict[str, Any]:
    return {"st": st}


def _actor() -> Actor:
    actor = current_actor()
    assert actor is not None  # the sign-in guard runs first
    return actor


def _require_admin() -> Actor:
    actor = _actor()
    if not actor.superuser:
        raise PermissionDenied(st("admin_only"))
    return actor


# --- the list of segments -------------------------------------------------------------------


@dataclass
class SegmentRow:
    key: str
    label: str
    form_label: str
    members: int | None
    entered_today: int
    left_today: int
    computed_on: Any
    version: int | None
    url: str | None
    edit_url: str | None


def _form_labels(schema: CompiledSchema, lang: str) -> dict[str, str]:
    return {k: pick(cf.form.label, lang, k) for k, cf in schema.forms.items()}


def _render_list(errors: dict[str, list[str]] | None = None,
                 values: dict[str, str] | None = None, message: str = "",
                 status: int = 200) -> Any:
    actor = _actor()
    lang = current_lang()
    schema = compiled_schema()
    service = record_service(actor)
    labels = _form_labels(schema, lang)

    def readable(segment: SegmentDef) -> bool:
        return segment.form in schema.forms and service.access(segment.form).can("read")

    rows = [SegmentRow(x.segment.key, pick(x.segment.label, lang, x.segment.key),
                       labels.get(x.segment.form, x.segment.form), x.members, x.entered_today,
                       x.left_today, x.computed_on, x.version,
                       url_for(".members_page", key=x.segment.key),
                       url_for(".builder_page", key=x.segment.key) if actor.superuser else None)
            for x in overview(db_session(), datetime.now(UTC), readable)]
    if actor.superuser:  # drafts never published: only their builder
        published = {r.key for r in rows}
        for item in MetadataStore(db_session(), None).list_keys(KIND):
            if item["key"] not in published and item["published_version"] is None:
                rows.append(SegmentRow(item["key"], pick(item.get("label"), lang, item["key"]),
                                       "", None, 0, 0, None, None, None,
                                       url_for(".builder_page", key=item["key"])))
    forms = sorted(labels.items(), key=lambda item: (item[1], item[0]))
    default_form = "customer" if "customer" in labels else (forms[0][0] if forms else "")
    return render_template("segments.html", rows=rows, forms=forms, default_form=default_form,
                           errors=errors or {}, values=values or {}, message=message), status


@segments_bp.route("/segments")
def segments_page() -> Any:
    return _render_list()


def new_segment_document(key: str, label_zh: str, label_en: str, form: str) -> dict[str, Any]:
    """A new segment: every record of ``form`` until a condition is set."""
    return {"key": key, "label": {"zh": label_zh, "en": label_en}, "form": form,
            "condition": {"and": []},
            "schedule": {"cron": DEFAULT_SCHEDULE.cron, "timezone": DEFAULT_SCHEDULE.timezone}}


@segments_bp.route("/admin/segments/new", methods=["POST"])
def create_segment() -> Any:
    actor = _require_admin()
    values = {k: (request.form.get(k) or "").strip()
              for k in ("key", "label_zh", "label_en", "form")}
    doc = new_segment_document(values["key"], values["label_zh"], values["label_en"],
                               values["form"])
    try:
        MetadataStore(db_session(), actor.user_id).create(KIND, doc)
    except MetadataError as exc:
        return _render_list(exc.errors, values, exc.message, 422)
    except Conflict as exc:
        return _render_list({"/key": [exc.message]}, values, exc.message, 409)
    flash(st("created"), "success")
    return redirect(url_for(".builder_page", key=doc["key"]))


# --- a segment's members, history and counts ------------------------------------------------


def _args_without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k not in names and v != ""}


def _members_url(key: str, **params: Any) -> str:
    return url_for(".members_page", key=key, **params)


def _table(form: FormDef, access: Any, items: list[dict[str, Any]], lookups: Lookups,
           lang: str, sort: list[str] | None, key: str) -> tuple[list[Column], list[Row]]:
    """Columns and rows as the form's list shows them (list_views), links kept on this page."""
    fields: dict[str, FieldDef] = {f.key: f for f in form.fields}
    keys = list_columns(form, access)
    effective = sort or list(form.default_sort) or ["-id"]
    first = effective[0] if effective else ""
    sortable = sortable_columns(form)
    base = _args_without("after", "sort")
    columns = []
    for col in keys:
        state_ = "asc" if first == col else "desc" if first == f"-{col}" else ""
        url = (_members_url(key, **base, sort=f"-{col}" if state_ == "asc" else col)
               if col in sortable else None)
        f = fields.get(col)
        columns.append(Column(col, column_label(fields, col, lang),
                              bool(f and field_is_numeric(f)), url, state_))
    title_key = form.title_field if form.title_field in keys else (keys[0] if keys else None)
    rows = []
    for item in items:
        record_url = url_for("record_pages.view_record", form_key=form.key, record_id=item["id"])
        cells = []
        for col in keys:
            f = fields.get(col)
            cell = (format_system(col, item.get(col), lookups) if f is None else
                    format_value(f, item.get(col), lookups, lang, link=col != title_key))
            if col == title_key:
                cell = Markup('<a class="fw-medium" href="{}">{}</a>').format(record_url, cell)
            cells.append(cell)
        rows.append(Row(item["id"], record_url, cells))
    return columns, rows


@segments_bp.route("/segments/<key>")
def members_page(key: str) -> Any:
    actor = _actor()
    lang = current_lang()
    session = db_session()
    segment, version = find_segment(session, key)
    service = MemberListService(session, compiled_schema(), actor, state().cipher, segment)
    cf = service.compiled(segment.form)
    form = cf.form
    access = service.access(form.key)
    access.require("read", form, lang)
    tab = request.args.get("tab", "members")
    counts = latest_counts(session, [key]).get(key)
    today = business_day(datetime.now(UTC))
    context: dict[str, Any] = {
        "segment": segment, "key": key, "version": version, "tab": tab,
        "label": pick(segment.label, lang, key), "form_label": pick(form.label, lang, form.key),
        "description": pick(segment.description, lang) if segment.description else "",
        "members_now": int(counts["members"]) if counts else None,
        "computed_on": counts["day"] if counts else None,
        "moves_today": (counts["entered"], counts["left"]) if counts and counts["day"] == today
        else (0, 0),
        "can_admin": actor.superuser,
        "tab_urls": {t: _members_url(key, tab=t) for t in ("members", "history", "counts")},
    }
    if tab == "history":
        before = request.args.get("before", type=int)
        entries, next_before = history_page(session, segment, cf, actor, access, before=before,
                                            limit=PAGE_SIZE * 2)
        context.update(entries=entries, next_url=_members_url(key, tab="history",
                                                              before=next_before)
                       if next_before else None,
                       first_url=_members_url(key, tab="history") if before else None)
        return render_template("segment_members.html", **context)
    if tab == "counts":
        end = _date_arg("to") or today
        start = _date_arg("from") or end - timedelta(days=29)
        try:
            days = counts_between(session, key, start, end)
        except ValidationFailed:
            start, end = end - timedelta(days=29), end
            days = counts_between(session, key, start, end)
        peak = max((d["members"] for d in days), default=0)
        context.update(days=days, start=start, end=end, peak=peak)
        return render_template("segment_members.html", **context)
    controls, where = build_filters(session, record_service(actor), form, access, request.args,
                                    lang)
    search = (request.args.get("q") or "").strip()
    sort = parse_sort(form, request.args.get("sort"))
    after = request.args.get("after") or None
    try:
        page = service.list_page(form.key, where=where, search=search or None, order_by=sort,
                                 after=after, limit=PAGE_SIZE)
    except ValidationFailed as exc:
        if after and "after" in exc.fields:
            return redirect(_members_url(key, **_args_without("after")))
        raise
    fields = [f for f in form.fields if f.key in set(list_columns(form, access))]
    lookups = Lookups(session, compiled_schema(), actor).load(fields, page.items)
    columns, rows = _table(form, access, page.items, lookups, lang, sort, key)
    context.update(
        columns=columns, rows=rows, controls=controls, search=search,
        sort=request.args.get("sort", ""), filtered=bool(where or search),
        filters_open=any(c.active for c in controls),
        has_search=bool(form.searchable_fields) or any(
            f.type == "auto_number" or f.has_lookup_hash for f in form.stored_fields),
        next_url=_members_url(key, **_args_without("after"), after=page.next_cursor)
        if page.next_cursor else None,
        first_url=_members_url(key, **_args_without("after")) if after else None,
        clear_url=_members_url(key, **({"sort": request.args["sort"]}
                                       if request.args.get("sort") else {})))
    return render_template("segment_members.html", **context)


def _date_arg(name: str) -> date | None:
    text = request.args.get(name) or ""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@segments_bp.route("/segments/<key>/recompute", methods=["POST"])
def recompute_now(key: str) -> Response:
    from lendbase.segments import enqueue_recompute

    _require_admin()
    find_segment(db_session(), key)
    enqueue_recompute(db_session(), key, trigger="manual")
    flash(st("recompute_queued"), "success")
    return redirect(_members_url(key))


# --- the builder ----------------------------------------------------------------------------


def _strip_sensitive(group: dict[str, Any]) -> dict[str, Any]:
    """Segments do not test encrypted fields: leave them out of the builder's menus."""
    out = dict(group)
    out["fields"] = [f for f in group.get("fields", []) if not f.get("sensitive")]
    if group.get("fieldGroups"):
        out["fieldGroups"] = [_strip_sensitive(g) for g in group["fieldGroups"]]
    return out


def condition_fields(schema: CompiledSchema, form_key: str, lang: str) -> dict[str, Any]:
    """``fields`` and ``fieldGroups`` of the condition builder for ``form_key`` (the shared
    helper of the condition builder), without encrypted fields."""
    from lendbase.web.condition_fields import related_field_groups

    found = related_field_groups(schema, form_key, lang)
    return _strip_sensitive({"fields": found["fields"], "fieldGroups": found["fieldGroups"]})


def _js_strings() -> dict[str, str]:
    lang = current_lang()
    return {k[3:]: (v.get(lang) or v["en"]) for k, v in MESSAGES.items() if k.startswith("js_")}


@segments_bp.route("/admin/segments/<key>/edit")
def builder_page(key: str) -> Any:
    _require_admin()
    lang = current_lang()
    store = MetadataStore(db_session(), None)
    draft = store.get_draft(KIND, key)
    latest = store.published(KIND, key)
    schema = compiled_schema()
    forms = {k: {"label": dict(cf.form.label), **condition_fields(schema, k, lang),
                 **action_fields(cf.form, lang, schema)}
             for k, cf in schema.forms.items()}
    boot = {
        "key": key, "doc": draft.doc, "lock_version": draft.lock_version,
        "published_version": latest.version if latest else None,
        "forms": forms, "lang": lang, "strings": _js_strings(),
        "condition_strings": condition_builder_strings(lang),
        # the rule editor's actions editor: its strings and catalogues (tags, templates, roles)
        "actions": {"strings": editor_strings(lang), **action_catalogues(lang)},
        "default_schedule": {"cron": DEFAULT_SCHEDULE.cron,
                             "timezone": DEFAULT_SCHEDULE.timezone},
        "urls": {"meta": "/api/v1/meta/segments", "segments": "/api/v1/segments",
                 "records": url_for("lists.list_records", form_key="__form__").rsplit("/", 1)[0],
                 "members": url_for(".members_page", key=key)},
    }
    boot_json = json.dumps(boot, ensure_ascii=False, default=str).replace("</", "<\\/")
    return render_template("segment_builder.html", key=key, boot_json=boot_json,
                           label=pick(draft.doc.get("label"), lang, key),
                           published_version=boot["published_version"])


__all__ = ["MESSAGES", "condition_fields", "new_segment_document", "segments_bp", "st"]
