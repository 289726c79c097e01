"""The administrators' jobs page: job runs by status (keyset paged, newest first), the error of
a failed run, a retry button, the outbox backlog and the schedules with their next run.

Everything comes from the database (``lb_job_run``, ``lb_outbox``, ``lb_schedule``), never from
Redis, so the page is the same with RQ workers and with in-process jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from lendbase.app import parse_id
from lendbase.errors import Conflict, NotFound, PermissionDenied
from lendbase.events import backlog
from lendbase.jobs import JobKind, JobStatus, list_runs, list_schedules, runtime_of
from lendbase.jobs import status_counts as count_by_status
from lendbase.records.permissions import Actor
from lendbase.web.context import current_actor, db_session
from lendbase.web.display import to_local
from lendbase.web.i18n import current_lang

jobs_bp = Blueprint("admin_jobs", __name__, url_prefix="/admin", template_folder="templates")

PAGE_SIZE = 50
#: Counts per tab stop here ("999+"): never a count of the whole table.
COUNT_CAP = 1000

#: The strings of this page.
MESSAGES: dict[str, dict[str, str]] = {
    "jobs_title": {"zh": "后台任务", "en": "Background jobs"},
    "jobs_intro_rq": {
        "zh": "任务由 RQ worker 执行（Redis 队列 {queue}）。事件先写入事务发件箱，"
              "提交后再分发，Redis 不可用时不会丢失。",
        "en": "RQ workers run the jobs (Redis queue {queue}). Events are written to a "
              "transactional outbox and dispatched after commit, so none is lost while Redis "
              "is down."},
    "jobs_intro_inline": {"zh": "未配置 REDIS_URL：任务和定时计划在 Web 进程内的后台线程中执行。",
                          "en": "REDIS_URL is not set: jobs and schedules run in a background "
                                "thread of the web process."},
    "admin_only": {"zh": "只有管理员可以查看和重试后台任务",
                   "en": "Only administrators may see and retry background jobs"},
    "all": {"zh": "全部", "en": "All"},
    "status_queued": {"zh": "排队中", "en": "Queued"},
    "status_running": {"zh": "运行中", "en": "Running"},
    "status_retrying": {"zh": "等待重试", "en": "Retrying"},
    "status_failed": {"zh": "失败", "en": "Failed"},
    "status_succeeded": {"zh": "成功", "en": "Succeeded"},
    "kind_event": {"zh": "事件", "en": "Event"},
    "kind_schedule": {"zh": "定时", "en": "Schedule"},
    "kind_task": {"zh": "任务", "en": "Task"},
    "col_id": {"zh": "编号", "en": "ID"},
    "col_kind": {"zh": "类型", "en": "Kind"},
    "col_job": {"zh": "内容", "en": "Job"},
    "col_status": {"zh": "状态", "en": "Status"},
    "col_attempts": {"zh": "尝试次数", "en": "Attempts"},
    "col_times": {"zh": "时间", "en": "Times"},
    "col_actions": {"zh": "操作", "en": "Actions"},
    "created": {"zh": "创建", "en": "Created"},
    "started": {"zh": "开始", "en": "Started"},
    "finished": {"zh": "结束", "en": "Finished"},
    "next_retry": {"zh": "下次重试", "en": "Next retry"},
    "due": {"zh": "计划时间", "en": "Due"},
    "not_pushed": {"zh": "尚未进入 Redis 队列", "en": "not in the Redis queue yet"},
    "record": {"zh": "记录", "en": "Record"},
    "event": {"zh": "事件", "en": "Event"},
    "error": {"zh": "错误", "en": "Error"},
    "show_error": {"zh": "查看错误详情", "en": "Show the error"},
    "retry": {"zh": "重试", "en": "Retry"},
    "retried": {"zh": "任务 {id} 已重新排队", "en": "Job {id} is queued again"},
    "no_runs": {"zh": "没有符合条件的任务。", "en": "No job here."},
    "older": {"zh": "更早的", "en": "Older"},
    "newest": {"zh": "最新", "en": "Newest"},
    "outbox": {"zh": "事件发件箱", "en": "Event outbox"},
    "pending_events": {"zh": "待分发事件", "en": "Events waiting for dispatch"},
    "oldest_pending": {"zh": "最早一条产生于", "en": "Oldest since"},
    "outbox_empty": {"zh": "没有积压，所有事件都已分发。",
                     "en": "No backlog: every event is dispatched."},
    "schedules": {"zh": "定时计划", "en": "Schedules"},
    "no_schedules": {"zh": "还没有定时计划。", "en": "No schedule yet."},
    "col_key": {"zh": "标识", "en": "Key"},
    "col_cron": {"zh": "Cron 表达式", "en": "Cron"},
    "col_timezone": {"zh": "时区", "en": "Time zone"},
    "col_last_run": {"zh": "上次执行", "en": "Last run"},
    "col_next_run": {"zh": "下次执行", "en": "Next run"},
    "disabled": {"zh": "已停用", "en": "Disabled"},
}


def t(key: str, **params: Any) -> str:
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


def ts(value: datetime | None) -> str:
    """A time to the second, in the site's time zone."""
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _require_admin() -> Actor:
    actor = current_actor()
    if actor is None or not actor.superuser:
        raise PermissionDenied(t("admin_only"))
    return actor


def _status_arg() -> JobStatus | None:
    value = request.args.get("status", "")
    return JobStatus(value) if value in {s.value for s in JobStatus} else None


def _kind_arg() -> JobKind | None:
    value = request.args.get("kind", "")
    return JobKind(value) if value in {k.value for k in JobKind} else None


@jobs_bp.route("/jobs")
def jobs_page() -> tuple[str, int]:
    _require_admin()
    session = db_session()
    status, kind = _status_arg(), _kind_arg()
    before = parse_id(request.args.get("before"))
    runs, cursor = list_runs(session, status=status, kind=kind, before=before,
                             limit=PAGE_SIZE)
    runtime = runtime_of(current_app)
    return render_template(
        "admin_jobs.html", t=t, ts=ts, runs=runs, cursor=cursor, status=status, kind=kind,
        before=before, statuses=list(JobStatus), counts=count_by_status(session, COUNT_CAP),
        count_cap=COUNT_CAP, backlog=backlog(session), schedules=list_schedules(session),
        inline=runtime.inline, queue=runtime.queue_name), 200


@jobs_bp.route("/jobs/<int:run_id>/retry", methods=["POST"])
def retry_job(run_id: int) -> Response:
    _require_admin()
    try:
        runtime_of(current_app).retry(db_session(), run_id)
    except (Conflict, NotFound) as exc:
        flash(exc.message, "error")
    else:
        flash(t("retried", id=run_id), "success")
    status = request.form.get("status") or None
    return redirect(url_for("admin_jobs.jobs_page", status=status))
