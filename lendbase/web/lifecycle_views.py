"""Lifecycle stages on the pages: the record page's stage bar (the stages in order with the
current one highlighted, time in it against its target, buttons for the allowed next stages and
the stage history), the POST a button sends, and what the form builder's Lifecycle block needs
(its strings and the users a fixed assignee is picked from).

A move is an ordinary update of the stage field through ``RecordService`` with the version the
page showed: the lifecycle refuses moves it does not allow, a stale version answers 409.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, flash, redirect, request, url_for
from sqlalchemy import select

from lendbase import db
from lendbase.app import parse_id
from lendbase.errors import Conflict, NotFound, ValidationFailed
from lendbase.jobs import runtime_of
from lendbase.records import lifecycle
from lendbase.records.permissions import Actor, access_for
from lendbase.web.context import compiled_schema, current_actor, db_session, record_service
from lendbase.web.display import format_datetime
from lendbase.web.errors import error_page, register_page_error_handlers
from lendbase.web.i18n import current_lang, pick, translate

lifecycle_bp = Blueprint("lifecycle_pages", __name__, template_folder="templates")
register_page_error_handlers(lifecycle_bp)  # once per process: blueprints are shared objects

#: The strings of the stage bar (zh / en).
MESSAGES: dict[str, dict[str, str]] = {
    "stages": {"zh": "生命周期阶段", "en": "Lifecycle stage"},
    "current": {"zh": "当前阶段", "en": "Current stage"},
    "no_stage": {"zh": "尚未进入任何阶段", "en": "Not in a stage yet"},
    "in_stage_for": {"zh": "已停留 {duration}", "en": "in this stage for {duration}"},
    "since": {"zh": "自 {at} 起", "en": "since {at}"},
    "target": {"zh": "目标 {n} 天内转出", "en": "target: leave within {n} day(s)"},
    "overdue": {"zh": "已超目标", "en": "Over target"},
    "final": {"zh": "终止阶段", "en": "Final stage"},
    "initial": {"zh": "起始阶段", "en": "Initial stage"},
    "move_to": {"zh": "转到", "en": "Move to"},
    "move_to_stage": {"zh": "转到“{stage}”", "en": "Move to {stage}"},
    "no_moves": {"zh": "没有可转入的阶段", "en": "No further stage"},
    "moved": {"zh": "已转到“{stage}”阶段", "en": "Moved to the stage {stage}"},
    "not_moved": {"zh": "未能转换阶段：", "en": "The stage was not changed:"},
    "history": {"zh": "阶段历史", "en": "Stage history"},
    "no_history": {"zh": "还没有阶段记录。", "en": "No stage changes yet."},
    "entered": {"zh": "进入“{stage}”", "en": "Entered {stage}"},
    "moved_from": {"zh": "“{source}” → “{target}”", "en": "{source} → {target}"},
    "stayed": {"zh": "在“{stage}”停留 {duration}", "en": "{duration} in {stage}"},
    "days_hours": {"zh": "{d}天{h}小时", "en": "{d} d {h} h"},
    "hours_minutes": {"zh": "{h}小时{m}分钟", "en": "{h} h {m} min"},
    "minutes": {"zh": "{m}分钟", "en": "{m} min"},
    "moments": {"zh": "不到1分钟", "en": "under a minute"},
}

#: The strings of the form builder's Lifecycle block (``static/js/builder/lifecycle_settings.js``).
BUILDER_MESSAGES: dict[str, dict[str, str]] = {
    "title": {"zh": "生命周期", "en": "Lifecycle"},
    "hint": {"zh": "选择保存阶段的下拉字段，其选项即为各阶段；设置允许的转换、起止阶段、目标天数和"
                   "进入阶段时自动创建的标准动作（SOP 任务）。",
             "en": "Choose the select field that holds the stage; its options are the stages. "
                   "Set the allowed moves, where records start and end, target days and the "
                   "standard actions (SOP tasks) created when a record enters a stage."},
    "field": {"zh": "阶段字段", "en": "Stage field"},
    "none": {"zh": "（不启用生命周期）", "en": "(no lifecycle)"},
    "no_selects": {"zh": "表单中还没有下拉字段：先添加一个下拉字段，其选项即为阶段。",
                   "en": "The form has no select field yet: add one; its options are the "
                         "stages."},
    "stages": {"zh": "阶段（按顺序）", "en": "Stages (in order)"},
    "sync": {"zh": "阶段与字段选项不一致", "en": "The stages differ from the field's options"},
    "sync_button": {"zh": "按选项同步阶段", "en": "Sync stages with the options"},
    "up": {"zh": "上移", "en": "Move up"},
    "down": {"zh": "下移", "en": "Move down"},
    "initial": {"zh": "起始阶段", "en": "Initial stage"},
    "initial_hint": {"zh": "新记录从这里开始", "en": "new records start here"},
    "terminal": {"zh": "终止阶段", "en": "Final stage"},
    "terminal_hint": {"zh": "不能再转出", "en": "nothing moves out of it"},
    "target_days": {"zh": "目标天数", "en": "Target days"},
    "target_hint": {"zh": "预期在多少天内转出此阶段（超过即为超期）",
                    "en": "expected days before a record leaves this stage (over it: "
                          "overdue)"},
    "moves": {"zh": "可转到", "en": "Can move to"},
    "no_moves": {"zh": "（终止阶段不能转出）", "en": "(a final stage has no moves)"},
    "sop": {"zh": "标准动作（SOP 任务）", "en": "Standard actions (SOP tasks)"},
    "sop_hint": {"zh": "记录进入此阶段时为负责人创建的任务", "en": "tasks created when a record "
                                                              "enters this stage"},
    "add_task": {"zh": "添加任务", "en": "Add a task"},
    "remove_task": {"zh": "删除任务", "en": "Remove the task"},
    "task_title_zh": {"zh": "任务名称（中文）", "en": "Title (Chinese)"},
    "task_title_en": {"zh": "任务名称（英文）", "en": "Title (English)"},
    "due_in_days": {"zh": "期限（天）", "en": "Due in (days)"},
    "priority": {"zh": "优先级", "en": "Priority"},
    "priority_low": {"zh": "低", "en": "Low"},
    "priority_normal": {"zh": "普通", "en": "Normal"},
    "priority_high": {"zh": "高", "en": "High"},
    "priority_urgent": {"zh": "紧急", "en": "Urgent"},
    "assignee": {"zh": "负责人", "en": "Assignee"},
    "assign_none": {"zh": "不指定", "en": "Nobody yet"},
    "assign_field": {"zh": "记录中的人员字段", "en": "A user field of the record"},
    "assign_round_robin": {"zh": "角色轮流分配", "en": "A role, in turn"},
    "assign_user": {"zh": "指定人员", "en": "A fixed user"},
    "assign_custom": {"zh": "自定义规则（JSON）", "en": "Custom rule (JSON)"},
    "owner": {"zh": "记录负责人（owner）", "en": "The record's owner"},
    "choose": {"zh": "请选择…", "en": "Choose…"},
    "n_tasks": {"zh": "{n} 项任务", "en": "{n} task(s)"},
    "new_task": {"zh": "新任务", "en": "New task"},
    "badge_initial": {"zh": "起始", "en": "start"},
    "badge_terminal": {"zh": "终止", "en": "final"},
    "days": {"zh": "{n} 天", "en": "{n} d"},
}

#: How many users the builder offers as a fixed assignee (active ones, by name).
MAX_BUILDER_USERS = 1000


def lt(key: str, **params: Any) -> str:
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


def duration_text(seconds: float) -> str:
    """"3天4小时" / "3 d 4 h": days and hours, else hours and minutes, else minutes."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return lt("days_hours", d=days, h=hours)
    if hours:
        return lt("hours_minutes", h=hours, m=minutes)
    return lt("minutes", m=minutes) if minutes else lt("moments")


# --- the record page's stage bar -----------------------------------------------------------------


@dataclass
class StageChip:
    key: str
    label: str
    state: str  # passed / current / ahead (by the stages' order)
    initial: bool
    terminal: bool
    target_days: int | None


@dataclass
class HistoryRow:
    text: str
    at: str
    actor: str
    stayed: str


@dataclass
class StageBar:
    field_label: str
    version: int
    current: str | None
    current_label: str
    stages: list[StageChip] = field(default_factory=list)
    entered_at: str = ""
    in_stage: str = ""
    target_days: int | None = None
    overdue: bool = False
    terminal: bool = False
    moves: list[tuple[str, str]] = field(default_factory=list)
    can_move: bool = False
    history: list[HistoryRow] = field(default_factory=list)


def _actor() -> Actor:
    actor = current_actor()
    assert actor is not None  # the sign-in guard runs before every page
    return actor


def record_stage(form_key: str, record: dict[str, Any]) -> StageBar | None:
    """The stage bar of a record the page already read (None: no lifecycle, or the stage
    field is hidden from the reader's roles)."""
    cf = compiled_schema().forms.get(form_key)
    lc = cf.form.lifecycle if cf is not None else None
    if cf is None or lc is None or lc.field not in record:
        return None
    actor, lang = _actor(), current_lang()
    f = cf.form.field(lc.field)
    access = access_for(actor, cf.form)
    current = record.get(lc.field)
    order = list(lc.keys)
    position = order.index(current) if current in order else -1
    chips = [StageChip(s.key, f.option_label(s.key, lang),
                       "current" if i == position else "passed" if i < position else "ahead",
                       s.key == lc.initial, s.key in lc.terminal,
                       s.target_days if s.key not in lc.terminal else None)
             for i, s in enumerate(lc.stages)]
    session = db_session()
    entries = lifecycle.stage_history(session, form_key, int(record["id"]))
    now = datetime.now(UTC)
    bar = StageBar(pick(f.label, lang, f.key), int(record["version"]), current,
                   f.option_label(current, lang) if current else lt("no_stage"), chips)
    latest = entries[0] if entries else None
    if latest is not None and latest.target == current:
        spent = (now - latest.at).total_seconds()
        bar.entered_at = format_datetime(latest.at)
        bar.in_stage = duration_text(spent)
        chip = next((c for c in chips if c.key == current), None)
        bar.target_days = chip.target_days if chip else None
        bar.overdue = bool(bar.target_days and spent > bar.target_days * 86400)
    bar.terminal = current in lc.terminal
    bar.can_move = (access.can("update") and lc.field not in access.hidden_fields
                    and lc.field not in access.readonly_fields
                    and (not f.readonly or actor.superuser))
    if not bar.terminal:
        targets = lc.allowed_next(current) if current in order else (
            (lc.initial,) if current is None and lc.initial else tuple(order))
        bar.moves = [(key, f.option_label(key, lang)) for key in targets if key != current]
    def name(key: str | None) -> str:
        return f.option_label(key, lang) if key else ""

    for entry in entries:
        text = lt("moved_from", source=name(entry.source), target=name(entry.target)) \
            if entry.source else lt("entered", stage=name(entry.target))
        stayed = lt("stayed", stage=name(entry.source),
                    duration=duration_text(entry.seconds_in_previous)) \
            if entry.source and entry.seconds_in_previous is not None else ""
        bar.history.append(HistoryRow(text, format_datetime(entry.at), entry.actor, stayed))
    return bar


@lifecycle_bp.app_context_processor
def _lifecycle_globals() -> dict[str, Any]:
    return {"record_stage": record_stage, "lt": lt}


def _record_url(form_key: str, record_id: int) -> str:
    return url_for("record_pages.view_record", form_key=form_key, record_id=record_id)


@lifecycle_bp.route("/f/<form_key>/<int:record_id>/stage", methods=["POST"])
def move_stage(form_key: str, record_id: int) -> Any:
    """Move the record to the posted stage (a stage-bar button)."""
    actor, lang = _actor(), current_lang()
    service = record_service(actor)
    lc = service.compiled(form_key).form.lifecycle
    if lc is None:
        raise NotFound(f"form {form_key!r} has no lifecycle")
    version = parse_id(request.form.get("version"))
    if version is None:
        raise ValidationFailed({"version": [
            "the page did not send the record's version; reload the page"]})
    target = request.form.get("stage") or None
    try:
        service.update(form_key, record_id, {lc.field: target}, expected_version=version)
    except Conflict as exc:
        try:
            now = service.get(form_key, record_id)["version"]
        except NotFound:
            return error_page(409, translate("error_409_title", lang),
                              translate("error_409_gone", lang),
                              actions=[(translate("back_to_list", lang),
                                        url_for("lists.list_records", form_key=form_key))])
        body = translate("error_409_body", lang, current=now, yours=version) \
            if now != version else translate("error_409_generic", lang)
        return error_page(409, translate("error_409_title", lang), body, detail=exc.message,
                          actions=[(translate("reload_record", lang),
                                    _record_url(form_key, record_id))], conflict=True)
    except ValidationFailed as exc:
        detail = " ".join(m for messages in exc.fields.values() for m in messages)
        flash(f"{lt('not_moved')} {detail or exc.message}", "error")
        return redirect(_record_url(form_key, record_id) + "#stage-bar")
    f = service.compiled(form_key).form.field(lc.field)
    flash(lt("moved", stage=f.option_label(target, lang) if target else "—"), "success")
    return redirect(_record_url(form_key, record_id) + "#stage-bar")


# --- the form builder -------------------------------------------------------------------------


def lifecycle_builder_boot(lang: str) -> dict[str, Any]:
    """What the builder's Lifecycle block needs: its strings in ``lang`` and the active users
    a fixed assignee is chosen from (roles and fields are in the builder's boot already)."""
    rows = db_session().execute(
        select(db.user.c.id, db.user.c.username, db.user.c.display_name)
        .where(db.user.c.is_active.is_(True))
        .order_by(db.user.c.display_name, db.user.c.id).limit(MAX_BUILDER_USERS)).all()
    return {"strings": {k: v.get(lang) or v["en"] for k, v in BUILDER_MESSAGES.items()},
            "users": [{"id": r.id, "name": f"{r.display_name} ({r.username})"} for r in rows]}


def init_lifecycle(app: Flask) -> None:
    """The stage bar's route and template globals, and the SOP subscriber of ``stage.changed``
    (every process that builds the app, web and workers, subscribes it)."""
    app.register_blueprint(lifecycle_bp)
    lifecycle.subscribe(runtime_of(app).subscribers)
