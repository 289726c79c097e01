"""Pages for work on records: the "my tasks" inbox (overdue first), a task's page (comments,
status, reassign), the record page's work panel (tags added and removed by hand with a
reason, open tasks, alerts, notifications), the navbar's overdue count and the tag admin page.

The services (``lendbase.work``) decide who may see and do what; these views only turn form
posts into service calls and flash what was refused on the page the user came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from lendbase import db
from lendbase.app import parse_id
from lendbase.errors import LendBaseError, PermissionDenied, ValidationFailed
from lendbase.records.permissions import Actor, access_for
from lendbase.web.context import compiled_schema, current_actor, db_session
from lendbase.web.display import Lookups, format_datetime, to_local
from lendbase.web.i18n import current_lang, pick
from lendbase.web.listing import user_options
from lendbase.work import (
    AlertService,
    NotificationService,
    Tag,
    TagCatalog,
    TagService,
    Task,
    TaskService,
    TaskView,
)
from lendbase.work.common import utcnow
from lendbase.work.tasks import TRANSITIONS

work_bp = Blueprint("work_pages", __name__, template_folder="templates")

#: The strings of these pages (zh / en).
MESSAGES: dict[str, dict[str, str]] = {
    "my_tasks": {"zh": "我的任务", "en": "My tasks"},
    "inbox_intro": {"zh": "逾期任务排在最前，其后按到期时间排列。",
                    "en": "Overdue tasks come first, then by due time."},
    "view_open": {"zh": "待办", "en": "Open"},
    "view_done": {"zh": "已完成", "en": "Done"},
    "no_tasks": {"zh": "没有待办任务，做得好！", "en": "No open tasks. Well done!"},
    "no_done": {"zh": "还没有已完成的任务。", "en": "No finished tasks yet."},
    "task": {"zh": "任务", "en": "Task"},
    "due": {"zh": "到期", "en": "Due"},
    "record": {"zh": "关联记录", "en": "Record"},
    "priority": {"zh": "优先级", "en": "Priority"},
    "status": {"zh": "状态", "en": "Status"},
    "kind": {"zh": "类型", "en": "Kind"},
    "assignee": {"zh": "负责人", "en": "Assignee"},
    "unassigned": {"zh": "未分配", "en": "Unassigned"},
    "created_by": {"zh": "创建者", "en": "Created by"},
    "by_rule": {"zh": "规则 {rule}", "en": "rule {rule}"},
    "by_segment": {"zh": "客群 {rule}", "en": "pool {rule}"},
    "by_lifecycle": {"zh": "生命周期标准动作（{rule}）", "en": "lifecycle SOP ({rule})"},
    "completed_at": {"zh": "完成时间", "en": "Completed"},
    "overdue_days": {"zh": "逾期 {n} 天", "en": "{n} day(s) overdue"},
    "overdue_hours": {"zh": "已逾期", "en": "Overdue"},
    "due_today": {"zh": "今天到期", "en": "Due today"},
    "due_in_days": {"zh": "{n} 天后到期", "en": "Due in {n} day(s)"},
    "no_due": {"zh": "无期限", "en": "No due date"},
    "overdue_count": {"zh": "{n} 项逾期", "en": "{n} overdue"},
    "first_page": {"zh": "第一页", "en": "First page"},
    "next_page": {"zh": "下一页", "en": "Next page"},
    "description": {"zh": "说明", "en": "Description"},
    "comments": {"zh": "评论", "en": "Comments"},
    "no_comments": {"zh": "还没有评论。", "en": "No comments yet."},
    "add_comment": {"zh": "添加评论", "en": "Add a comment"},
    "comment_placeholder": {"zh": "写下跟进情况…", "en": "What happened, what is next…"},
    "post_comment": {"zh": "发表评论", "en": "Post comment"},
    "comment_added": {"zh": "评论已添加", "en": "Comment added"},
    "reassign": {"zh": "转派", "en": "Reassign"},
    "reassign_to": {"zh": "转派给", "en": "Reassign to"},
    "reason": {"zh": "原因", "en": "Reason"},
    "reassigned": {"zh": "任务已转派", "en": "Task reassigned"},
    "status_changed": {"zh": "状态已更新", "en": "Status updated"},
    "history": {"zh": "任务记录", "en": "Task history"},
    "no_history": {"zh": "暂无变更。", "en": "No changes yet."},
    "ev_status": {"zh": "状态 {a} → {b}", "en": "Status {a} → {b}"},
    "ev_reassigned": {"zh": "从 {a} 转派给 {b}", "en": "Reassigned from {a} to {b}"},
    "ev_updated": {"zh": "修改了 {fields}", "en": "Changed {fields}"},
    "open_record": {"zh": "打开客户/记录全貌", "en": "Open the record"},
    "payload": {"zh": "附加信息", "en": "Details"},
    "st_open": {"zh": "待处理", "en": "Open"},
    "st_in_progress": {"zh": "处理中", "en": "In progress"},
    "st_done": {"zh": "已完成", "en": "Done"},
    "st_cancelled": {"zh": "已取消", "en": "Cancelled"},
    "do_open": {"zh": "重新打开", "en": "Reopen"},
    "do_in_progress": {"zh": "开始处理", "en": "Start"},
    "do_done": {"zh": "完成", "en": "Mark done"},
    "do_cancelled": {"zh": "取消任务", "en": "Cancel task"},
    "pr_low": {"zh": "低", "en": "Low"},
    "pr_normal": {"zh": "普通", "en": "Normal"},
    "pr_high": {"zh": "高", "en": "High"},
    "pr_urgent": {"zh": "紧急", "en": "Urgent"},
    "kd_follow_up": {"zh": "跟进", "en": "Follow-up"},
    "kd_phone_collection": {"zh": "电话催收", "en": "Phone collection"},
    "kd_escalation": {"zh": "升级处理", "en": "Escalation"},
    "kd_sop": {"zh": "标准动作", "en": "SOP"},
    "kd_review": {"zh": "复核", "en": "Review"},
    "kd_other": {"zh": "其他", "en": "Other"},
    # the record panel
    "work": {"zh": "标签与待办", "en": "Tags and work"},
    "tags": {"zh": "标签", "en": "Tags"},
    "no_tags": {"zh": "还没有标签。", "en": "No tags yet."},
    "add_tag": {"zh": "添加标签", "en": "Add a tag"},
    "choose_tag": {"zh": "选择标签…", "en": "Choose a tag…"},
    "tag_reason_placeholder": {"zh": "原因（可选）", "en": "Reason (optional)"},
    "add": {"zh": "添加", "en": "Add"},
    "remove_tag": {"zh": "移除标签 {tag}", "en": "Remove tag {tag}"},
    "tag_added": {"zh": "已添加标签", "en": "Tag added"},
    "tag_present": {"zh": "该记录已有此标签", "en": "The record already has this tag"},
    "tag_removed": {"zh": "已移除标签", "en": "Tag removed"},
    "added_by": {"zh": "{who} 于 {at} 添加", "en": "Added by {who} on {at}"},
    "open_tasks": {"zh": "待办任务", "en": "Open tasks"},
    "no_open_tasks": {"zh": "没有待办任务。", "en": "No open tasks."},
    "alerts": {"zh": "预警", "en": "Alerts"},
    "no_alerts": {"zh": "没有未关闭的预警。", "en": "No open alerts."},
    "acknowledge": {"zh": "确认", "en": "Acknowledge"},
    "acknowledged": {"zh": "已确认", "en": "Acknowledged"},
    "alert_acknowledged": {"zh": "预警已确认", "en": "Alert acknowledged"},
    "sv_info": {"zh": "提示", "en": "Info"},
    "sv_warning": {"zh": "警告", "en": "Warning"},
    "sv_high": {"zh": "高", "en": "High"},
    "sv_critical": {"zh": "严重", "en": "Critical"},
    "notifications": {"zh": "通知记录", "en": "Notifications"},
    "no_notifications": {"zh": "还没有通知。", "en": "No notifications yet."},
    "ns_queued": {"zh": "排队中", "en": "Queued"},
    "ns_sent": {"zh": "已发送", "en": "Sent"},
    "ns_refused": {"zh": "已拦截", "en": "Refused"},
    "ns_failed": {"zh": "发送失败", "en": "Failed"},
    "rc_quiet_hours": {"zh": "免打扰时段 {window}（客户当地时间 {zone}），未发送；下次运行时再发",
                       "en": "Quiet hours {window} (customer local time, {zone}): not sent; the "
                             "next run sends it"},
    "ch_sms": {"zh": "短信", "en": "SMS"},
    "ch_email": {"zh": "邮件", "en": "Email"},
    "ch_in_app": {"zh": "站内", "en": "In-app"},
    "ch_wecom": {"zh": "企业微信", "en": "WeCom"},
    "ch_dingtalk": {"zh": "钉钉", "en": "DingTalk"},
    "not_done": {"zh": "未完成：", "en": "Not done:"},
    # tag admin
    "tag_admin": {"zh": "标签管理", "en": "Tags"},
    "tag_admin_intro": {"zh": "标签按组管理。互斥组（如评级）每条记录只能有一个标签；"
                              "“仅规则”组只能由规则设置。",
                        "en": "Tags live in groups. An exclusive group (a rating) holds one tag "
                              "per record; a rules-only group is set by rules alone."},
    "groups": {"zh": "标签组", "en": "Tag groups"},
    "group": {"zh": "标签组", "en": "Group"},
    "key": {"zh": "标识", "en": "Key"},
    "label_zh": {"zh": "中文名称", "en": "Chinese label"},
    "label_en": {"zh": "英文名称", "en": "English label"},
    "exclusive": {"zh": "互斥（每条记录一个）", "en": "Exclusive (one per record)"},
    "manual": {"zh": "可手工设置", "en": "May be set by hand"},
    "rules_only": {"zh": "仅规则", "en": "Rules only"},
    "roles_hint": {"zh": "可手工设置的角色（逗号分隔，留空为所有可查看记录的人）",
                   "en": "Roles that may set it by hand (comma separated; empty: anyone who "
                         "can read the record)"},
    "color": {"zh": "颜色", "en": "Colour"},
    "active": {"zh": "启用", "en": "Active"},
    "retired": {"zh": "已停用", "en": "Retired"},
    "save_group": {"zh": "保存标签组", "en": "Save group"},
    "save_tag": {"zh": "保存标签", "en": "Save tag"},
    "new_group": {"zh": "新建或修改标签组", "en": "Add or change a group"},
    "new_tag": {"zh": "新建或修改标签", "en": "Add or change a tag"},
    "saved": {"zh": "已保存", "en": "Saved"},
    "no_groups": {"zh": "还没有标签组。", "en": "No tag group yet."},
    "admin_only": {"zh": "只有管理员可以管理标签", "en": "Only administrators manage tags"},
}


def wt(key: str, **params: Any) -> str:
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


#: Where a rule's or a pool's doing comes from: ``rule:<key>`` / ``segment:<key>`` and the
#: metadata kind holding its name.
_SOURCES = {"rule": ("rules", "by_rule"), "segment": ("segments", "by_segment"),
            "lifecycle": ("", "by_lifecycle")}


def source_text(source: str | None) -> str:
    """"规则 催收梯度：…" for ``rule:collect_sms_reminder``: the rule's or pool's name in the
    reader's language (its key when it is gone)."""
    kind, _, key = (source or "").partition(":")
    meta_kind, message = _SOURCES.get(kind, ("", "by_rule"))
    name = key or source or "—"
    if meta_kind:
        found = db_session().execute(
            select(db.meta_draft.c.doc).where(db.meta_draft.c.kind == meta_kind,
                                              db.meta_draft.c.key == key)).scalar()
        if isinstance(found, dict) and isinstance(found.get("label"), dict):
            name = pick(found["label"], current_lang(), key)
    return wt(message, rule=name)


def _actor() -> Actor:
    actor = current_actor()
    assert actor is not None  # the sign-in guard runs before every page
    return actor


def _tasks(actor: Actor) -> TaskService:
    return TaskService(db_session(), actor, schema=compiled_schema())


@dataclass(frozen=True)
class DueBadge:
    text: str
    css: str


def due_badge(task: Task, now: datetime) -> DueBadge:
    """How a due time reads in the inbox: overdue (red), today (orange), soon, later."""
    if task.due_at is None:
        return DueBadge(wt("no_due"), "text-bg-light border")
    if not task.is_open:
        return DueBadge(format_datetime(task.due_at), "text-bg-light border")
    due, today = to_local(task.due_at), to_local(now)
    days = (due.date() - today.date()).days
    if task.due_at < now:
        late = (today.date() - due.date()).days
        return DueBadge(wt("overdue_days", n=late) if late else wt("overdue_hours"),
                        "text-bg-danger")
    if days == 0:
        return DueBadge(wt("due_today"), "text-bg-warning")
    if days <= 3:
        return DueBadge(wt("due_in_days", n=days), "text-bg-info")
    return DueBadge(format_datetime(task.due_at), "text-bg-light border")


@dataclass
class TaskRow:
    task: Task
    badge: DueBadge
    record_title: str
    record_url: str | None
    form_label: str
    assignee: str


def _rows(tasks: list[Task], actor: Actor, now: datetime) -> list[TaskRow]:
    schema = compiled_schema()
    lookups = Lookups(db_session(), schema, actor)
    by_form: dict[str, set[int]] = {}
    for task in tasks:
        if task.form_key and task.record_id:
            by_form.setdefault(task.form_key, set()).add(task.record_id)
    for form_key, ids in by_form.items():
        lookups.load_titles(form_key, ids)
    lookups.load_users({t.assignee_id for t in tasks if t.assignee_id})
    lang = current_lang()
    rows = []
    for task in tasks:
        cf = schema.forms.get(task.form_key or "")
        readable = cf is not None and access_for(actor, cf.form).can("read")
        rows.append(TaskRow(
            task, due_badge(task, now),
            lookups.title(task.form_key, task.record_id) if task.form_key else "",
            url_for("record_pages.view_record", form_key=task.form_key,
                    record_id=task.record_id) if readable and task.record_id else None,
            pick(cf.form.label, lang, cf.form.key) if cf is not None else (task.form_key or ""),
            lookups.user(task.assignee_id) if task.assignee_id else wt("unassigned")))
    return rows


# --- the inbox and a task's page --------------------------------------------------------------


@work_bp.route("/tasks")
def inbox() -> str:
    actor = _actor()
    view = request.args.get("view", "open")
    view = view if view in {"open", "done"} else "open"
    after = request.args.get("after") or None
    service = _tasks(actor)
    page = service.my_tasks(view=TaskView(view), after=after, limit=25)
    now = utcnow()
    next_url = url_for("work_pages.inbox", view=view, after=page.next_cursor) \
        if page.next_cursor else None
    first_url = url_for("work_pages.inbox", view=view) if after else None
    return render_template("tasks_inbox.html", wt=wt, view=view, rows=_rows(page.items, actor, now),
                           next_url=next_url, first_url=first_url,
                           overdue=service.overdue_count(actor.user_id or 0))


def _name(lookups: Lookups, user_id: int | None) -> str:
    return lookups.user(user_id) if user_id else wt("unassigned")


@work_bp.route("/tasks/<int:task_id>")
def task_page(task_id: int) -> str:
    actor = _actor()
    service = _tasks(actor)
    task = service.get(task_id)
    comments = service.comments(task_id)
    events = service.events(task_id)
    lookups = Lookups(db_session(), compiled_schema(), actor)
    ids = {task.assignee_id, task.created_by, *(c.author_id for c in comments),
           *(e.actor_id for e in events)}
    for e in events:
        if e.kind == "reassigned":
            ids |= {e.detail.get("from"), e.detail.get("to")}
    lookups.load_users({i for i in ids if isinstance(i, int)})
    row = _rows([task], actor, utcnow())[0]
    uid = actor.user_id
    can_change = actor.superuser or (uid is not None and uid in {task.assignee_id,
                                                                  task.created_by})
    history = []
    for e in events:
        if e.kind == "status":
            text = wt("ev_status", a=wt(f"st_{e.detail.get('from')}"),
                      b=wt(f"st_{e.detail.get('to')}"))
        elif e.kind == "reassigned":
            text = wt("ev_reassigned", a=_name(lookups, e.detail.get("from")),
                      b=_name(lookups, e.detail.get("to")))
        else:
            text = wt("ev_updated", fields=", ".join(wt(k) if k in MESSAGES else k
                                                     for k in e.detail))
        history.append({"text": text, "at": format_datetime(e.at),
                        "who": lookups.user(e.actor_id) if e.actor_id else (e.rule_key or ""),
                        "reason": e.detail.get("reason")})
    creator = lookups.user(task.created_by) if task.created_by else \
        source_text(task.created_by_rule)
    return render_template(
        "task.html", wt=wt, task=task, row=row, can_change=can_change,
        related=_referenced_records(task, actor, lookups) if row.record_url else [],
        transitions=sorted(TRANSITIONS[task.status], key=lambda s: list(TRANSITIONS).index(s)),
        comments=[{"who": _name(lookups, c.author_id), "at": format_datetime(c.at),
                   "body": c.body} for c in comments],
        history=history, creator=creator, users=user_options(db_session()))


def _referenced_records(task: Task, actor: Actor, lookups: Lookups) -> list[dict[str, str]]:
    """Links to the records the task's record points at (a loan's customer: the customer's
    full view), for the reference fields the reader may see and the records they may read;
    one query for the record, one per target form."""
    schema = compiled_schema()
    cf = schema.forms.get(task.form_key or "")
    if cf is None or task.record_id is None:
        return []
    hidden = access_for(actor, cf.form).hidden_fields
    refs = [f for f in cf.form.stored_fields
            if f.type == "reference" and f.target in schema.forms and f.key not in hidden]
    if not refs:
        return []
    table = cf.table
    row = db_session().execute(select(*[table.c[f.key] for f in refs])
                               .where(table.c.id == task.record_id)).first()
    if row is None:
        return []
    lang = current_lang()
    links = []
    for f, value in zip(refs, row, strict=True):
        if value is None:
            continue
        target = schema.forms[str(f.target)]
        lookups.load_titles(target.form.key, {int(value)})
        title = lookups.titles.get(target.form.key, {}).get(int(value))
        if title is None:  # not readable by this person
            continue
        links.append({"label": pick(f.label, lang, f.key), "title": title,
                      "url": url_for("record_pages.view_record", form_key=target.form.key,
                                     record_id=int(value)), "key": f.key})
    return links


def _back_to_task(task_id: int) -> Response:
    return redirect(url_for("work_pages.task_page", task_id=task_id))


def _refused(exc: LendBaseError) -> None:
    detail = exc.message
    if isinstance(exc, ValidationFailed):
        detail = "; ".join(" ".join(v) for v in exc.fields.values()) or exc.message
    flash(f"{wt('not_done')} {detail}", "error")


@work_bp.route("/tasks/<int:task_id>/comment", methods=["POST"])
def comment_task(task_id: int) -> Response:
    try:
        _tasks(_actor()).comment(task_id, request.form.get("body", ""))
        flash(wt("comment_added"), "success")
    except ValidationFailed as exc:
        _refused(exc)
    return _back_to_task(task_id)


@work_bp.route("/tasks/<int:task_id>/status", methods=["POST"])
def change_status(task_id: int) -> Response:
    version = parse_id(request.form.get("version"))
    try:
        _tasks(_actor()).set_status(task_id, request.form.get("status", ""),
                                    expected_version=version)
        flash(wt("status_changed"), "success")
    except (ValidationFailed, PermissionDenied) as exc:
        _refused(exc)
    return _back_to_task(task_id)


@work_bp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
def reassign_task(task_id: int) -> Response:
    to_user = parse_id(request.form.get("assignee_id"))
    try:
        _tasks(_actor()).reassign(task_id, to_user if to_user is not None else 0,
                                  reason=request.form.get("reason") or None,
                                  expected_version=parse_id(request.form.get("version")))
        flash(wt("reassigned"), "success")
    except (ValidationFailed, PermissionDenied) as exc:
        _refused(exc)
    return _back_to_task(task_id)


# --- the record page's panel ----------------------------------------------------------------


@dataclass
class RecordWork:
    tags: list[Any] = field(default_factory=list)
    tag_choices: list[tuple[str, list[Tag]]] = field(default_factory=list)
    tag_added_by: dict[str, str] = field(default_factory=dict)
    removable: frozenset[str] = frozenset()  # tags this user may take off by hand
    tasks: list[TaskRow] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    notifications: list[Any] = field(default_factory=list)


def record_work(form_key: str, record_id: int) -> RecordWork:
    """What the record page's work panel shows (the page already checked the read right)."""
    actor = _actor()
    session, schema = db_session(), compiled_schema()
    lang = current_lang()
    tags = TagService(session, actor, schema=schema).tags_of(form_key, record_id)
    catalog = TagCatalog(session, actor)
    present = {t.tag_key for t in tags}
    groups = [g for g in catalog.groups() if actor.superuser or (
        g.manual and (not g.roles or set(g.roles) & set(actor.roles)))]
    all_tags = catalog.tags(active_only=True)
    choices = [(pick(g.label, lang, g.key),
                [t for t in all_tags if t.group_key == g.key and t.key not in present])
               for g in groups]
    lookups = Lookups(session, schema, actor)
    lookups.load_users({t.added_by for t in tags if t.added_by})
    added_by = {t.tag_key: wt("added_by", who=lookups.user(t.added_by) if t.added_by else
                              source_text(t.added_by_rule),
                              at=format_datetime(t.added_at)) for t in tags}
    tasks = TaskService(session, actor, schema=schema).for_record(form_key, record_id)
    alerts = AlertService(session, actor, schema=schema).for_record(form_key, record_id)
    notes = NotificationService(session, actor, schema=schema).for_record(form_key, record_id,
                                                                         limit=10)
    notes = [replace(n, reason=refusal_text(n.reason_code, n.reason)) for n in notes]
    hand_groups = {g.key for g in groups}
    removable = frozenset(t.tag_key for t in tags if t.group_key in hand_groups)
    return RecordWork(tags, [c for c in choices if c[1]], added_by, removable,
                      _rows(tasks, actor, utcnow()), alerts, notes)


_QUIET = re.compile(r"between (\d\d:\d\d) and (\d\d:\d\d).*\(([^;)]+)")


def refusal_text(code: str | None, reason: str | None) -> str | None:
    """A gate's refusal in the reader's language (the gates record it in English)."""
    found = _QUIET.search(reason or "") if code == "quiet_hours" else None
    if found is None:
        return reason
    start, end, zone = found.groups()
    return wt("rc_quiet_hours", window=f"{start}–{end}", zone=zone)


def _back_to_record(form_key: str, record_id: int) -> Response:
    return redirect(url_for("record_pages.view_record", form_key=form_key,
                            record_id=record_id) + "#work")


@work_bp.route("/f/<form_key>/<int:record_id>/tags", methods=["POST"])
def add_tag(form_key: str, record_id: int) -> Response:
    service = TagService(db_session(), _actor(), schema=compiled_schema())
    try:
        added = service.add(form_key, record_id, request.form.get("tag", ""),
                            reason=request.form.get("reason") or None)
        flash(wt("tag_added") if added else wt("tag_present"), "success" if added else "info")
    except (ValidationFailed, PermissionDenied) as exc:
        _refused(exc)
    return _back_to_record(form_key, record_id)


@work_bp.route("/f/<form_key>/<int:record_id>/tags/<tag_key>/remove", methods=["POST"])
def remove_tag(form_key: str, record_id: int, tag_key: str) -> Response:
    service = TagService(db_session(), _actor(), schema=compiled_schema())
    try:
        service.remove(form_key, record_id, tag_key, reason=request.form.get("reason") or None)
        flash(wt("tag_removed"), "success")
    except (ValidationFailed, PermissionDenied) as exc:
        _refused(exc)
    return _back_to_record(form_key, record_id)


@work_bp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
def acknowledge_alert(alert_id: int) -> Response:
    alert = AlertService(db_session(), _actor(), schema=compiled_schema()).acknowledge(alert_id)
    flash(wt("alert_acknowledged"), "success")
    return _back_to_record(alert.form_key, alert.record_id)


# --- tag admin --------------------------------------------------------------------------------


def _require_admin() -> Actor:
    actor = _actor()
    if not actor.superuser:
        raise PermissionDenied(wt("admin_only"))
    return actor


@work_bp.route("/admin/tags")
def tag_admin() -> str:
    actor = _require_admin()
    catalog = TagCatalog(db_session(), actor)
    tags = catalog.tags()
    groups = [(g, [t for t in tags if t.group_key == g.key]) for g in catalog.groups()]
    return render_template("admin_tags.html", wt=wt, groups=groups)


def _label_from_form(form: Mapping[str, str]) -> dict[str, str]:
    return {lang: form.get(f"label_{lang}", "").strip() for lang in ("zh", "en")
            if form.get(f"label_{lang}", "").strip()}


def _admin_post(action: Callable[[TagCatalog], Any]) -> Response:
    catalog = TagCatalog(db_session(), _require_admin())
    try:
        action(catalog)
        flash(wt("saved"), "success")
    except LendBaseError as exc:
        _refused(exc)
    return redirect(url_for("work_pages.tag_admin"))


@work_bp.route("/admin/tags/groups", methods=["POST"])
def save_group() -> Response:
    form = request.form
    roles = [r.strip() for r in form.get("roles", "").split(",") if r.strip()]
    return _admin_post(lambda c: c.save_group(
        form.get("key", "").strip(), _label_from_form(form),
        exclusive=form.get("exclusive") == "1", manual=form.get("manual") == "1", roles=roles,
        sort=parse_id(form.get("sort")) or 0))


@work_bp.route("/admin/tags/tags", methods=["POST"])
def save_tag() -> Response:
    form = request.form
    return _admin_post(lambda c: c.save_tag(
        form.get("key", "").strip(), form.get("group_key", ""), _label_from_form(form),
        color=form.get("color", "#6c757d"), active=form.get("active") == "1"))


# --- globals for templates (record page panel, navbar badge) -----------------------------------


def overdue_task_count() -> int:
    """The signed-in user's overdue open tasks, for the navbar badge (one index range scan
    over (assignee, status, due_at))."""
    actor = current_actor()
    if actor is None or actor.user_id is None:
        return 0
    return TaskService(db_session(), actor).overdue_count(actor.user_id)


@work_bp.app_context_processor
def _work_globals() -> dict[str, Any]:
    return {"record_work": record_work, "overdue_task_count": overdue_task_count, "wt": wt}
