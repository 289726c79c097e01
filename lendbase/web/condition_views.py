"""The condition playground for administrators: build a condition of the full language over a
published form with the visual builder, read its JSON and summary, and count how many records
match it right now.

``GET /admin/conditions/try?form=<key>[&value=<condition JSON>]`` is the page (a link with
``value`` opens a condition, e.g. from a rule or a segment); ``POST /admin/conditions/count``
with ``{"form": key, "where": <condition> | null}`` answers ``{"count": n, "sample": [...]}``
or a 422 ``{"error": {"code", "message"}}`` naming what the server refused. The count is the
records query path: the form's table, the actor's row scope and ``compile_sql`` of the
condition over the installed forms (related records included), with the clock at now.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import func, select

from lendbase.conditions import ConditionContext, ConditionSchema, UnsupportedNode, compile_sql
from lendbase.errors import NotFound, PermissionDenied
from lendbase.forms.values import DEFAULT_TZ
from lendbase.records.permissions import Actor, access_for, scope_clause
from lendbase.web.builder_views import condition_builder_strings
from lendbase.web.condition_fields import related_field_groups
from lendbase.web.context import compiled_schema, current_actor, db_session, state
from lendbase.web.i18n import current_lang, pick

conditions_bp = Blueprint("conditions", __name__, url_prefix="/admin/conditions",
                          template_folder="templates")

#: How many matching records the count shows by title.
SAMPLE_SIZE = 5

#: The strings of this page (the builder's own are the ``cb_*`` keys of ``i18n``).
MESSAGES: dict[str, dict[str, str]] = {
    "title": {"zh": "条件试验场", "en": "Condition playground"},
    "intro": {"zh": "用可视化编辑器搭建条件，查看它的 JSON 和摘要，并统计此刻有多少条记录满足它。"
                    "规则、客群和报表使用同一种条件。",
              "en": "Build a condition visually, read its JSON and summary, and count how many "
                    "records match it right now. Rules, segments and reports use the same "
                    "conditions."},
    "admin_only": {"zh": "只有管理员可以使用条件试验场",
                   "en": "Only administrators may use the condition playground"},
    "form": {"zh": "表单", "en": "Form"},
    "open": {"zh": "打开", "en": "Open"},
    "no_forms": {"zh": "还没有发布任何表单。", "en": "No form is published yet."},
    "condition": {"zh": "条件", "en": "Condition"},
    "every_record": {"zh": "无条件：全部记录", "en": "No condition: every record"},
    "matches": {"zh": "匹配的记录", "en": "Matching records"},
    "count": {"zh": "统计匹配记录", "en": "Count matching records"},
    "counting": {"zh": "正在统计…", "en": "Counting…"},
    "result": {"zh": "此刻有 {n} 条“{form}”记录满足条件", "en": "{n} {form} record(s) match "
                                                              "right now"},
    "result_all": {"zh": "共有 {n} 条“{form}”记录（无条件）", "en": "{n} {form} record(s) in "
                                                                "all (no condition)"},
    "stale": {"zh": "条件已修改，请重新统计", "en": "The condition changed; count again"},
    "incomplete": {"zh": "有未完成的行：统计只用已完成的部分",
                   "en": "Some rows are incomplete: the count uses the complete part only"},
    "refused": {"zh": "服务器拒绝了这个条件：", "en": "The server refused this condition:"},
    "failed": {"zh": "统计失败（HTTP {status}）", "en": "Counting failed (HTTP {status})"},
    "latest": {"zh": "最新的匹配记录", "en": "Latest matching records"},
    "json": {"zh": "条件 JSON", "en": "The condition as JSON"},
    "no_condition_json": {"zh": "（无条件）", "en": "(no condition)"},
    "copy": {"zh": "复制", "en": "Copy"},
    "copied": {"zh": "已复制", "en": "Copied"},
    "link": {"zh": "此条件的链接", "en": "Link to this condition"},
    "bad_value": {"zh": "链接中的条件不是 JSON 对象，已忽略", "en": "The condition in the link is "
                                                                "not a JSON object; ignored"},
    "clock": {"zh": "相对日期按此刻计算（时区 {tz}）", "en": "Relative dates count from now "
                                                            "(time zone {tz})"},
}


def ct(key: str, **params: Any) -> str:
    """A string of this page in the UI language."""
    texts = MESSAGES[key]
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


def _admin() -> Actor | None:
    actor = current_actor()
    return actor if actor is not None and actor.superuser else None


def _error(status: int, code: str, message: str) -> tuple[dict[str, Any], int]:
    return {"error": {"code": code, "message": message}}, status


def _lookup_hash(scope: str, key: str, text: str) -> str:
    """The keyed hash stored beside an encrypted value (``RecordCodec.lookup_hash``)."""
    return str(state().cipher.keyed_hash(text, f"{scope}.{key}"))


@conditions_bp.route("/try")
def playground() -> Any:
    if _admin() is None:
        raise PermissionDenied(ct("admin_only"))
    lang = current_lang()
    schema = compiled_schema()
    forms = sorted(((key, pick(cf.form.label, lang, key)) for key, cf in schema.forms.items()),
                   key=lambda item: item[0])
    form_key = request.args.get("form") or (forms[0][0] if forms else "")
    if forms and form_key not in schema.forms:
        raise NotFound(f"no published form {form_key!r}")
    value: Any = None
    notice = ""
    raw = request.args.get("value")
    if raw:
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, Mapping):
            value, notice = None, ct("bad_value")
    boot: dict[str, Any] = {}
    if forms:
        boot = {
            "form": form_key,
            "formLabel": pick(schema.forms[form_key].form.label, lang, form_key),
            "lang": lang,
            "strings": condition_builder_strings(lang),
            **related_field_groups(schema, form_key, lang),
            "value": value,
            "urls": {"count": url_for("conditions.count"),
                     "page": url_for("conditions.playground")},
            "text": {k: ct(k) for k in ("every_record", "counting", "result", "result_all",
                                        "stale", "incomplete", "refused", "failed", "latest",
                                        "no_condition_json", "copy", "copied")},
        }
    boot_json = json.dumps(boot, ensure_ascii=False, default=str).replace("</", "<\\/")
    return render_template("condition_playground.html", ct=ct, forms=forms, form_key=form_key,
                           boot_json=boot_json, notice=notice,
                           clock=ct("clock", tz=str(DEFAULT_TZ)))


@conditions_bp.route("/count", methods=["POST"])
def count() -> Any:
    """How many records of ``form`` match ``where`` now, within the actor's row scope."""
    actor = _admin()
    if actor is None:
        return _error(403, PermissionDenied.code, ct("admin_only"))
    body = request.get_json(silent=True)
    if not isinstance(body, Mapping):
        return _error(400, "bad_request", "send {\"form\": key, \"where\": <condition> | null}")
    schema = compiled_schema()
    form_key, where = body.get("form"), body.get("where")
    if not isinstance(form_key, str) or form_key not in schema.forms:
        return _error(404, NotFound.code, f"no published form {form_key!r}")
    if where is not None and not isinstance(where, Mapping):
        return _error(422, UnsupportedNode.code, "\"where\" must be a condition object or null")
    compiled = schema.forms[form_key]
    table = compiled.table
    access = access_for(actor, compiled.form)
    hidden = {key: access_for(actor, cf.form).hidden_fields for key, cf in schema.forms.items()}
    conditions: list[Any] = [scope_clause(actor, access, table)]
    if where:
        context = ConditionContext.for_form(
            ConditionSchema.from_compiled(schema, hidden_fields=hidden), form_key,
            now=datetime.now(UTC), lookup_hash=_lookup_hash)
        try:
            conditions.append(compile_sql(where, context))
        except UnsupportedNode as exc:
            return _error(422, exc.code, exc.message)
        except (KeyError, TypeError, IndexError, ValueError, ArithmeticError) as exc:
            return _error(422, UnsupportedNode.code, f"malformed condition: {exc}")
    session = db_session()
    total = session.scalar(select(func.count()).select_from(table).where(*conditions))
    title = compiled.form.title_field
    show_title = (title is not None and compiled.form.has_field(title)
                  and compiled.form.field(title).stored
                  and not compiled.form.field(title).sensitive
                  and title not in access.hidden_fields)
    columns = [table.c.id, table.c[title]] if show_title and title else [table.c.id]
    rows = session.execute(select(*columns).where(*conditions)
                           .order_by(table.c.id.desc()).limit(SAMPLE_SIZE)).all()
    sample = [{"id": row[0],
               "title": str(row[1]) if show_title and row[1] not in (None, "") else f"#{row[0]}",
               "url": url_for("record_pages.view_record", form_key=form_key, record_id=row[0])}
              for row in rows]
    return {"count": int(total or 0), "sample": sample}


__all__ = ["conditions_bp"]
