"""The administrators' rules pages: the list of rules (form, trigger, enabled, published
version, last run and its counts; a new rule) and the rule editor.

The editor is a page of ES modules (``static/js/rules/``) holding the rule document: it saves
the draft (``PUT /api/v1/meta/rules/<key>`` with the lock version), simulates it
(``POST /api/v1/rules/<key>/simulate``, now or as of a past day), publishes it and lists its
versions and runs through the API. The condition is edited with the shared visual condition
builder (``static/js/condition_builder.js``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from lendbase.auth.org import list_roles
from lendbase.errors import Conflict, MetadataError, NotFound, PermissionDenied
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.model import FieldDef, FormDef
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.rules import last_runs
from lendbase.rules.fields import REFUSED_TYPES
from lendbase.rules.outbound import RECIPIENT_TYPES
from lendbase.web.builder_views import condition_builder_strings
from lendbase.web.context import compiled_schema, current_actor, db_session
from lendbase.web.i18n import current_lang, pick

rules_bp = Blueprint("rules_pages", __name__, url_prefix="/admin/rules",
                     template_folder="templates")

KIND = "rules"

#: The strings of these pages and of their scripts (sent to the editor as ``strings``).
MESSAGES: dict[str, dict[str, str]] = {
    "title": {"zh": "业务规则", "en": "Rules"},
    "intro": {"zh": "规则监视某个表单的记录：触发时，对满足条件的记录执行动作"
                    "（打标签、建任务、预警、通知…）。发布前可先模拟，看清会影响哪些记录。",
              "en": "A rule watches the records of a form: when it is triggered, its actions "
                    "(tags, tasks, alerts, notifications...) run for the records that match "
                    "its condition. Simulate it before publishing to see what it would do."},
    "admin_only": {"zh": "只有管理员可以管理规则", "en": "Only administrators may manage rules"},
    "no_such_rule": {"zh": "没有标识为 {key} 的规则", "en": "There is no rule {key}"},
    "no_rules": {"zh": "还没有规则。", "en": "No rule yet."},
    "col_rule": {"zh": "规则", "en": "Rule"},
    "col_form": {"zh": "表单", "en": "Form"},
    "col_trigger": {"zh": "触发", "en": "Trigger"},
    "col_enabled": {"zh": "启用", "en": "Enabled"},
    "col_version": {"zh": "已发布版本", "en": "Published"},
    "col_last_run": {"zh": "最近运行", "en": "Last run"},
    "not_published": {"zh": "未发布", "en": "not published"},
    "draft_changed": {"zh": "草稿有未发布的修改", "en": "draft has unpublished changes"},
    "never_ran": {"zh": "尚未运行", "en": "never ran"},
    "enabled": {"zh": "启用", "en": "On"},
    "disabled": {"zh": "停用", "en": "Off"},
    "new_rule": {"zh": "新建规则", "en": "New rule"},
    "key": {"zh": "规则标识", "en": "Key"},
    "key_hint": {"zh": "小写字母、数字和下划线，以字母开头，如 overdue_followup",
                 "en": "lower-case letters, digits and _, starting with a letter, e.g. "
                       "overdue_followup"},
    "label_zh": {"zh": "中文名称", "en": "Name (Chinese)"},
    "label_en": {"zh": "英文名称", "en": "Name (English)"},
    "form": {"zh": "监视的表单", "en": "Form it watches"},
    "no_forms": {"zh": "请先发布一个表单。", "en": "Publish a form first."},
    "create": {"zh": "创建", "en": "Create"},
    "created": {"zh": "规则已创建", "en": "Rule created"},
    "not_created": {"zh": "未创建：", "en": "Not created:"},
    "open": {"zh": "编辑", "en": "Edit"},
    "status_succeeded": {"zh": "成功", "en": "Succeeded"},
    "status_failed": {"zh": "失败", "en": "Failed"},
    "affected_n": {"zh": "影响 {n} 条", "en": "{n} affected"},
    "matched_n": {"zh": "匹配 {n} 条", "en": "{n} matched"},
    # triggers
    "trigger_record_created": {"zh": "记录新建时", "en": "When a record is created"},
    "trigger_record_updated": {"zh": "记录修改时", "en": "When a record is updated"},
    "trigger_field_changed": {"zh": "字段变化时", "en": "When a field changes"},
    "trigger_stage_changed": {"zh": "阶段变化时", "en": "When the stage changes"},
    "trigger_schedule": {"zh": "定时", "en": "On a schedule"},
    "trigger_external": {"zh": "外部事件", "en": "On an external event"},
    # the editor
    "back": {"zh": "返回规则列表", "en": "Back to rules"},
    "basics": {"zh": "基本信息", "en": "Basics"},
    "description": {"zh": "说明", "en": "Description"},
    "once": {"zh": "同一记录执行频率", "en": "How often per record"},
    "once_record": {"zh": "每条记录只执行一次", "en": "Once per record"},
    "once_day": {"zh": "每条记录每天最多一次", "en": "Once per record per day"},
    "once_week": {"zh": "每条记录每周最多一次", "en": "Once per record per week"},
    "once_month": {"zh": "每条记录每月最多一次", "en": "Once per record per month"},
    "once_every_time": {"zh": "每次触发都执行", "en": "Every time it is triggered"},
    "once_hint": {"zh": "任务、预警、通知和 Webhook 按此去重；"
                        "标签和字段按当前值判断，不会重复修改。",
                  "en": "Tasks, alerts, notifications and webhooks are never made twice within "
                        "this; tags and fields change only when they differ."},
    "trigger": {"zh": "触发方式", "en": "Trigger"},
    "trigger_type": {"zh": "何时运行", "en": "When it runs"},
    "fields_changed": {"zh": "这些字段任一变化时", "en": "When any of these fields changes"},
    "on_create": {"zh": "新建记录时填写了这些字段也算",
                  "en": "Also when a new record is created with one of them filled in"},
    "stage_field": {"zh": "阶段字段", "en": "Stage field"},
    "from_stages": {"zh": "从（不选为任意）", "en": "From (none: any)"},
    "to_stages": {"zh": "到（不选为任意）", "en": "To (none: any)"},
    "cron": {"zh": "Cron 表达式", "en": "Cron expression"},
    "cron_hint": {"zh": "五段：分 时 日 月 周，如 0 9 * * 1-5 表示工作日 9:00",
                  "en": "five fields: minute hour day month weekday; 0 9 * * 1-5 is 09:00 on "
                        "weekdays"},
    "timezone": {"zh": "时区", "en": "Time zone"},
    "event_name": {"zh": "事件名称", "en": "Event name"},
    "event_hint": {"zh": "外部系统通过 POST /api/v1/events 发送，如 bureau.report_ready",
                   "en": "posted by another system to POST /api/v1/events, e.g. "
                         "bureau.report_ready"},
    "condition": {"zh": "条件", "en": "Condition"},
    "condition_hint": {"zh": "不设条件表示对所有记录执行。", "en": "No condition: every record."},
    "always": {"zh": "所有记录", "en": "Every record"},
    "actions": {"zh": "动作", "en": "Actions"},
    "no_actions": {"zh": "还没有动作：添加一个，说明满足条件的记录要发生什么。",
                   "en": "No action yet: add one to say what happens to the matching "
                         "records."},
    "add_action": {"zh": "添加动作", "en": "Add an action"},
    "remove_action": {"zh": "删除此动作", "en": "Remove this action"},
    "action_n": {"zh": "动作 {n}", "en": "Action {n}"},
    "action_set_field": {"zh": "修改字段", "en": "Set a field"},
    "action_add_tag": {"zh": "添加标签", "en": "Add a tag"},
    "action_remove_tag": {"zh": "移除标签", "en": "Remove a tag"},
    "action_create_task": {"zh": "创建任务", "en": "Create a task"},
    "action_raise_alert": {"zh": "发出预警", "en": "Raise an alert"},
    "action_notify": {"zh": "发送通知", "en": "Send a notification"},
    "action_webhook": {"zh": "调用 Webhook", "en": "Call a webhook"},
    "action_start_flow": {"zh": "发起流程", "en": "Start a flow"},
    "field": {"zh": "字段", "en": "Field"},
    "value": {"zh": "新值", "en": "New value"},
    "value_mode": {"zh": "取值方式", "en": "Value from"},
    "mode_value": {"zh": "固定值", "en": "A value"},
    "mode_formula": {"zh": "公式", "en": "A formula"},
    "empty_value": {"zh": "（清空）", "en": "(empty)"},
    "formula": {"zh": "公式", "en": "Formula"},
    "formula_hint": {"zh": "如 balance * 1.05 或 DATE_ADD(TODAY(), 30, \"D\")",
                     "en": "e.g. balance * 1.05 or DATE_ADD(TODAY(), 30, \"D\")"},
    "yes": {"zh": "是", "en": "Yes"},
    "no": {"zh": "否", "en": "No"},
    "tag": {"zh": "标签", "en": "Tag"},
    "reason": {"zh": "原因（记入标签历史）", "en": "Reason (kept in the tag history)"},
    "title_field": {"zh": "标题", "en": "Title"},
    "task_kind": {"zh": "任务类型", "en": "Kind"},
    "kind_follow_up": {"zh": "跟进", "en": "Follow-up"},
    "kind_phone_collection": {"zh": "电话催收", "en": "Phone collection"},
    "kind_escalation": {"zh": "升级处理", "en": "Escalation"},
    "kind_sop": {"zh": "标准动作", "en": "SOP"},
    "kind_review": {"zh": "复核", "en": "Review"},
    "kind_other": {"zh": "其他", "en": "Other"},
    "priority": {"zh": "优先级", "en": "Priority"},
    "priority_low": {"zh": "低", "en": "Low"},
    "priority_normal": {"zh": "普通", "en": "Normal"},
    "priority_high": {"zh": "高", "en": "High"},
    "priority_urgent": {"zh": "紧急", "en": "Urgent"},
    "due_in_days": {"zh": "期限（天后到期）", "en": "Due in (days)"},
    "assignee": {"zh": "分配给", "en": "Assign to"},
    "assignee_none": {"zh": "（不分配）", "en": "(nobody)"},
    "assignee_field": {"zh": "记录中的用户字段", "en": "The user in a field of the record"},
    "assignee_owner": {"zh": "记录负责人", "en": "The record's owner"},
    "assignee_head": {"zh": "该用户的部门负责人", "en": "That user's department head"},
    "assignee_round_robin": {"zh": "某角色成员轮流", "en": "Members of a role in turn"},
    "assignee_user": {"zh": "指定用户（编号）", "en": "A given user (id)"},
    "role": {"zh": "角色", "en": "Role"},
    "user_id": {"zh": "用户编号", "en": "User id"},
    "description_text": {"zh": "说明", "en": "Description"},
    "script": {"zh": "话术 / 附加信息（JSON）", "en": "Script / details (JSON)"},
    "json_invalid": {"zh": "不是有效的 JSON 对象", "en": "not a valid JSON object"},
    "severity": {"zh": "级别", "en": "Severity"},
    "severity_info": {"zh": "提示", "en": "Info"},
    "severity_warning": {"zh": "警告", "en": "Warning"},
    "severity_high": {"zh": "高", "en": "High"},
    "severity_critical": {"zh": "严重", "en": "Critical"},
    "detail": {"zh": "详情（JSON）", "en": "Detail (JSON)"},
    "template": {"zh": "通知模板", "en": "Template"},
    "no_templates": {"zh": "没有通知模板", "en": "No notification template"},
    "recipient_field": {"zh": "收件人字段", "en": "Recipient field"},
    "quiet_hours": {"zh": "免打扰时段内不发送（按客户当地时间，之后的运行再发）",
                    "en": "Do not send in quiet hours (customer local time; a later run sends it)"},
    "quiet_from": {"zh": "从", "en": "From"},
    "quiet_to": {"zh": "到", "en": "To"},
    "quiet_zone": {"zh": "时区取自", "en": "Time zone from"},
    "quiet_zone_default": {"zh": "业务时区（Asia/Shanghai）",
                           "en": "Business time zone (Asia/Shanghai)"},
    "url": {"zh": "地址", "en": "URL"},
    "secret": {"zh": "签名密钥（至少 16 个字符）", "en": "Signing secret (16+ characters)"},
    "timeout": {"zh": "超时（秒）", "en": "Timeout (seconds)"},
    "payload": {"zh": "附加数据（JSON）", "en": "Extra data (JSON)"},
    "flows_later": {"zh": "流程功能将随其专门的版本提供，规则暂时不能发起流程。",
                    "en": "Flows arrive with their own issue; a rule cannot start one yet."},
    "choose": {"zh": "请选择…", "en": "Choose..."},
    "save": {"zh": "保存草稿", "en": "Save draft"},
    "saving": {"zh": "正在保存…", "en": "Saving..."},
    "saved": {"zh": "草稿已保存", "en": "Draft saved"},
    "unsaved": {"zh": "有未保存的修改", "en": "Unsaved changes"},
    "conflict": {"zh": "草稿已被他人修改。请重新载入后再改。",
                 "en": "Someone else changed the draft. Reload it and make your change again."},
    "reload": {"zh": "重新载入", "en": "Reload"},
    "errors_title": {"zh": "请先修正以下问题：", "en": "Fix these first:"},
    "simulate": {"zh": "模拟", "en": "Simulate"},
    "simulating": {"zh": "正在模拟…", "en": "Simulating..."},
    "simulation": {"zh": "模拟结果", "en": "Simulation"},
    "simulate_hint": {"zh": "按当前数据（或过去某天）试运行草稿，不写入任何数据。",
                      "en": "Runs the draft on the current data (or as of a past day) and "
                            "writes nothing."},
    "as_of": {"zh": "按某日评估（可选）", "en": "As of (optional)"},
    "matched": {"zh": "满足条件的记录", "en": "Records matching"},
    "would_per_action": {"zh": "各动作将影响的记录数", "en": "Records each action would change"},
    "records_n": {"zh": "{n} 条记录", "en": "{n} record(s)"},
    "more_n": {"zh": "等，共 {n} 条", "en": "and more, {n} in all"},
    "publish": {"zh": "发布", "en": "Publish"},
    "publishing": {"zh": "正在发布…", "en": "Publishing..."},
    "published_v": {"zh": "已发布 v{n}", "en": "Published v{n}"},
    "draft_only": {"zh": "仅草稿", "en": "Draft only"},
    "published_now": {"zh": "已发布为 v{n}", "en": "Published as v{n}"},
    "unchanged": {"zh": "草稿与已发布版本相同，无需发布", "en": "The draft equals the published "
                                                          "version; nothing to publish"},
    "next_run": {"zh": "下次运行", "en": "Next run"},
    "history": {"zh": "版本历史", "en": "Versions"},
    "no_versions": {"zh": "尚未发布过。", "en": "Never published."},
    "restore": {"zh": "恢复到草稿", "en": "Restore to draft"},
    "restored": {"zh": "已将 v{n} 恢复为草稿", "en": "v{n} restored into the draft"},
    "runs": {"zh": "运行记录", "en": "Runs"},
    "no_runs": {"zh": "还没有运行记录。", "en": "No run yet."},
    "run_trigger": {"zh": "触发", "en": "Trigger"},
    "run_when": {"zh": "时间", "en": "When"},
    "run_result": {"zh": "结果", "en": "Result"},
    "close": {"zh": "关闭", "en": "Close"},
    "network_error": {"zh": "无法连接服务器，请稍后再试。", "en": "The server could not be "
                                                             "reached; try again."},
}


def t(key: str, **params: Any) -> str:
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


def editor_strings(lang: str) -> dict[str, str]:
    """The strings of the rule editor's scripts, the actions editor's included (the segment
    builder embeds the same actions editor)."""
    return {k: v.get(lang) or v["en"] for k, v in MESSAGES.items()}


def _require_admin() -> Actor:
    actor = current_actor()
    if actor is None or not actor.superuser:
        raise PermissionDenied(t("admin_only"))
    return actor


def trigger_text(trigger: Mapping[str, Any] | None, lang: str) -> str:
    """A rule's trigger in a few words ("On a schedule: 0 9 * * * (Asia/Shanghai)")."""
    if not isinstance(trigger, Mapping) or not trigger.get("type"):
        return ""
    kind = str(trigger["type"])
    words = MESSAGES.get(f"trigger_{kind}", {}).get(lang, kind)
    detail = ""
    if kind == "schedule":
        detail = f"{trigger.get('cron', '')} ({trigger.get('timezone') or 'Asia/Shanghai'})"
    elif kind == "field_changed":
        detail = ", ".join(trigger.get("fields") or [])
    elif kind == "stage_changed":
        detail = f"{trigger.get('field', '')}: {'/'.join(trigger.get('from') or ['*'])} → " \
                 f"{'/'.join(trigger.get('to') or ['*'])}"
    elif kind == "external":
        detail = str(trigger.get("event", ""))
    return f"{words}: {detail}" if detail else words


def _form_labels(schema: CompiledSchema, lang: str) -> dict[str, str]:
    return {key: pick(cf.form.label, lang, key) for key, cf in schema.forms.items()}


# --- the list ---------------------------------------------------------------------------------


def _render_list(errors: Mapping[str, list[str]] | None = None, message: str = "",
                 values: Mapping[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    lang = current_lang()
    session = db_session()
    store = MetadataStore(session, None)
    published = {v.key: v for v in store.all_published(KIND)}
    keys = [item["key"] for item in store.list_keys(KIND)]
    runs = last_runs(session, keys)
    forms = _form_labels(compiled_schema(), lang)
    rows = []
    for key in keys:
        doc = store.get_draft(KIND, key).doc
        version = published.get(key)
        live = version.doc if version else doc
        form = str(live.get("form") or "")
        rows.append({
            "key": key, "label": pick(doc.get("label"), lang, key),
            "form": form, "form_label": forms.get(form, form),
            "trigger": trigger_text(live.get("trigger"), lang),
            "enabled": bool(live.get("enabled", True)),
            "version": version.version if version else None,
            "changed": version is not None and version.doc != doc,
            "run": runs.get(key)})
    return render_template("admin_rules.html", t=t, rules=rows, forms=forms,
                           errors=dict(errors or {}), message=message,
                           values=dict(values or {})), status


@rules_bp.route("")
def rules_page() -> Any:
    _require_admin()
    return _render_list()


def new_rule_document(key: str, label_zh: str, label_en: str, form: str) -> dict[str, Any]:
    """A new rule: runs when a record of ``form`` is updated, no condition, no action yet."""
    return {"key": key, "label": {"zh": label_zh, "en": label_en}, "form": form,
            "enabled": True, "trigger": {"type": "record_updated"}, "once": "record",
            "actions": []}


@rules_bp.route("/new", methods=["POST"])
def create_rule() -> Any:
    actor = _require_admin()
    values = {k: (request.form.get(k) or "").strip()
              for k in ("key", "label_zh", "label_en", "form")}
    doc = new_rule_document(values["key"], values["label_zh"] or values["label_en"],
                            values["label_en"] or values["label_zh"], values["form"])
    try:
        MetadataStore(db_session(), actor.user_id).create(KIND, doc)
    except MetadataError as exc:
        return _render_list(exc.errors, exc.message, values, 422)
    except Conflict as exc:
        return _render_list({"/key": [exc.message]}, exc.message, values, 409)
    flash(t("created"), "success")
    return redirect(url_for("rules_pages.editor_page", key=doc["key"]))


# --- the editor -------------------------------------------------------------------------------


def action_fields(form: FormDef, lang: str,
                  schema: CompiledSchema | None = None) -> dict[str, Any]:
    """What the actions editor (``static/js/rules/actions.js``) offers for the records of
    ``form``: the fields a set_field action may write, the user fields a task may be assigned
    through, the fields a notification may be sent to and a quiet-hours zone read from (with
    ``schema``, also those of the records its references point at: ``customer.mobile``).
    Shared with the segment builder."""
    def label(f: FieldDef) -> str:
        return pick(f.label, lang, f.key)

    recipients = [{"key": f.key, "label": label(f), "type": f.type}
                  for f in form.fields if f.type in RECIPIENT_TYPES]
    zones = [{"key": f.key, "label": label(f)} for f in form.fields
             if f.type in ("text", "select") and not f.sensitive]
    for ref in form.fields:
        target = schema.forms.get(ref.target or "") if schema is not None else None
        if ref.type != "reference" or target is None:
            continue
        for f in target.form.fields:
            key, shown = f"{ref.key}.{f.key}", f"{label(ref)} › {label(f)}"
            if f.type in RECIPIENT_TYPES:
                recipients.append({"key": key, "label": shown, "type": f.type})
            if f.type in ("text", "select") and not f.sensitive:
                zones.append({"key": key, "label": shown})
    return {
        "writable": [{"key": f.key, "label": label(f), "type": f.type, "required": f.required,
                      "options": [{"value": o.value, "label": pick(o.label, lang, o.value)}
                                  for o in f.options]}
                     for f in form.fields
                     if f.stored and not f.sensitive and f.type not in REFUSED_TYPES],
        "users": [{"key": f.key, "label": label(f)} for f in form.fields if f.type == "user"],
        "recipients": recipients,
        "zones": zones,
    }


def _forms_boot(schema: CompiledSchema, lang: str) -> dict[str, Any]:
    """Per published form: its label, the condition builder's fields and related records, and
    what the action and trigger editors offer."""
    from lendbase.web.condition_fields import related_field_groups

    out: dict[str, Any] = {}
    for key, cf in sorted(schema.forms.items()):
        form = cf.form
        groups = related_field_groups(schema, key, lang)
        out[key] = {
            "label": pick(form.label, lang, key),
            "fields": groups["fields"], "fieldGroups": groups["fieldGroups"],
            "all_fields": [{"key": f.key, "label": pick(f.label, lang, f.key), "type": f.type}
                           for f in form.fields if f.type != "subtable"],
            "selects": [{"key": f.key, "label": pick(f.label, lang, f.key),
                         "options": [{"value": o.value, "label": pick(o.label, lang, o.value)}
                                     for o in f.options]}
                        for f in form.fields if f.type == "select"],
            **action_fields(form, lang, schema),
        }
    return out


def action_catalogues(lang: str) -> dict[str, Any]:
    """The catalogues the actions editor picks from: tags (with their group), the active
    notification templates, the roles. Shared with the segment builder."""
    from sqlalchemy import select

    from lendbase import db

    session = db_session()
    tags = session.execute(
        select(db.tag.c.key, db.tag.c.label, db.tag.c.active, db.tag_group.c.label.label("g"))
        .join(db.tag_group, db.tag_group.c.key == db.tag.c.group_key)
        .order_by(db.tag_group.c.sort, db.tag.c.sort, db.tag.c.key)).all()
    templates = session.execute(
        select(db.notification_template.c.key, db.notification_template.c.label,
               db.notification_template.c.channel, db.notification_template.c.form_key)
        .where(db.notification_template.c.active.is_(True))
        .order_by(db.notification_template.c.key)).all()
    return {
        "tags": [{"key": r.key, "label": f"{pick(r.g, lang, '')} · {pick(r.label, lang, r.key)}",
                  "active": bool(r.active)} for r in tags],
        "templates": [{"key": r.key, "label": pick(r.label, lang, r.key), "channel": r.channel,
                       "form": r.form_key} for r in templates],
        "roles": [{"key": r.key, "label": pick(r.label, lang, r.key)}
                  for r in list_roles(session)],
    }


@rules_bp.route("/<key>")
def editor_page(key: str) -> Any:
    _require_admin()
    lang = current_lang()
    store = MetadataStore(db_session(), None)
    try:
        draft = store.get_draft(KIND, key)
    except NotFound:
        flash(t("no_such_rule", key=key), "error")
        return redirect(url_for("rules_pages.rules_page"))
    latest = store.published(KIND, key)
    api = url_for("rules_pages.rules_page").replace("/admin/rules", "/api/v1")
    boot = {
        "key": key, "doc": draft.doc, "lock_version": draft.lock_version,
        "published_version": latest.version if latest else None,
        "published_same": latest is not None and latest.doc == draft.doc,
        "forms": _forms_boot(compiled_schema(), lang), **action_catalogues(lang),
        "lang": lang, "strings": editor_strings(lang),
        "condition_strings": condition_builder_strings(lang),
        "urls": {"meta": f"{api}/meta/rules/{key}", "rules": f"{api}/rules/{key}",
                 "records": url_for("rules_pages.rules_page").replace("/admin/rules", "/f"),
                 "list": url_for("rules_pages.rules_page")},
    }
    boot_json = json.dumps(boot, ensure_ascii=False, default=str).replace("</", "<\\/")
    return render_template("admin_rule_editor.html", t=t, key=key,
                           label=pick(draft.doc.get("label"), lang, key),
                           published_version=boot["published_version"], boot_json=boot_json)


__all__ = ["MESSAGES", "action_catalogues", "action_fields", "editor_strings",
           "new_rule_document", "rules_bp", "trigger_text"]
