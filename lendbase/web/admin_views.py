"""The administrators' organisation page: the department tree with heads and members, and the
users (add, edit roles / department / active flag, reset password, unlock).

Every post goes through ``lendbase.auth.org`` with the signed-in administrator as the actor of
its change-log entry; a refused change shows the page again with the reasons (422, or 409 for
a department that is not empty), a good one redirects back to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from lendbase.app import parse_id
from lendbase.auth import org
from lendbase.errors import Conflict, PermissionDenied, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.web.context import current_actor, db_session
from lendbase.web.i18n import current_lang, pick

admin_bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

#: The strings of this page; shared chrome (save, cancel, username...) comes from ``i18n``.
MESSAGES: dict[str, dict[str, str]] = {
    "org_title": {"zh": "组织与用户", "en": "Organisation and users"},
    "org_intro": {"zh": "部门树决定“团队”数据范围：部门负责人可看到本部门及下级部门成员的数据。",
                  "en": "The department tree drives the \"team\" row scope: a head sees the "
                        "records of everyone in their department and the ones below it."},
    "admin_only": {"zh": "只有管理员可以管理组织与用户", "en": "Only administrators may manage "
                                                               "departments and users"},
    "departments": {"zh": "部门", "en": "Departments"},
    "no_departments": {"zh": "还没有部门。", "en": "No department yet."},
    "add_department": {"zh": "添加部门", "en": "Add a department"},
    "department_name": {"zh": "部门名称", "en": "Department name"},
    "parent": {"zh": "上级部门", "en": "Parent department"},
    "top_level": {"zh": "（顶级）", "en": "(top level)"},
    "head": {"zh": "负责人", "en": "Head"},
    "no_head": {"zh": "（无）", "en": "(none)"},
    "members_n": {"zh": "{n} 名成员", "en": "{n} member(s)"},
    "members_total": {"zh": "含下级共 {n} 人", "en": "{n} including sub-departments"},
    "edit_department": {"zh": "修改部门", "en": "Edit department"},
    "delete_department": {"zh": "删除部门", "en": "Delete department"},
    "delete_department_hint": {"zh": "只能删除没有成员和下级部门的部门。",
                               "en": "Only a department without users and sub-departments "
                                     "can be deleted."},
    "users": {"zh": "用户", "en": "Users"},
    "add_user": {"zh": "添加用户", "en": "Add a user"},
    "display_name": {"zh": "显示名", "en": "Display name"},
    "department": {"zh": "部门", "en": "Department"},
    "no_department": {"zh": "（无部门）", "en": "(no department)"},
    "roles": {"zh": "角色", "en": "Roles"},
    "initial_password": {"zh": "初始密码", "en": "Initial password"},
    "password_hint": {"zh": "至少 8 个字符，不能全是数字", "en": "At least 8 characters, not "
                                                                "only digits"},
    "language": {"zh": "界面语言", "en": "Language"},
    "site_default": {"zh": "（系统默认）", "en": "(site default)"},
    "status": {"zh": "状态", "en": "Status"},
    "active": {"zh": "启用", "en": "Active"},
    "inactive": {"zh": "已停用", "en": "Deactivated"},
    "locked": {"zh": "已锁定", "en": "Locked"},
    "actions": {"zh": "操作", "en": "Actions"},
    "edit_user": {"zh": "修改用户", "en": "Edit user"},
    "reset_password": {"zh": "重置密码", "en": "Reset password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "unlock": {"zh": "解锁", "en": "Unlock"},
    "saved_department": {"zh": "部门已保存", "en": "Department saved"},
    "deleted_department": {"zh": "部门已删除", "en": "Department deleted"},
    "saved_user": {"zh": "用户已保存", "en": "User saved"},
    "password_reset": {"zh": "密码已重置", "en": "Password reset"},
    "unlocked": {"zh": "账号已解锁", "en": "Account unlocked"},
    "not_saved": {"zh": "未保存：", "en": "Not saved:"},
}


def t(key: str, **params: Any) -> str:
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(current_lang()) or texts["en"]
    return text.format(**params) if params else text


@dataclass(frozen=True)
class DepartmentOption:
    id: int
    label: str  # indented by depth, for selects
    branch: frozenset[int]  # itself and everything below: not a valid new parent


@dataclass
class Failure:
    """A refused post: which form, its field errors, what was typed (minus passwords)."""

    form: str
    fields: dict[str, list[str]]
    message: str
    values: Mapping[str, Any]

    def value(self, form: str, key: str, default: Any = "") -> Any:
        return self.values.get(key, default) if form == self.form else default

    def values_of(self, form: str, key: str, default: list[Any]) -> list[Any]:
        if form != self.form or not isinstance(self.values, MultiDict):
            return default
        return self.values.getlist(key)


def _require_admin() -> Actor:
    actor = current_actor()
    if actor is None or not actor.superuser:
        raise PermissionDenied(t("admin_only"))
    return actor


def _department_options(tree: list[org.DepartmentNode]) -> list[DepartmentOption]:
    options: list[DepartmentOption] = []

    def branch(node: org.DepartmentNode) -> frozenset[int]:
        return frozenset({node.id}).union(*(branch(c) for c in node.children))

    def walk(nodes: list[org.DepartmentNode], depth: int) -> None:
        for node in nodes:
            options.append(DepartmentOption(node.id, "\u2003" * depth + node.name, branch(node)))
            walk(node.children, depth + 1)

    walk(tree, 0)
    return options


def _render(failure: Failure | None = None, status: int = 200) -> tuple[str, int]:
    session = db_session()
    tree = org.department_tree(session)
    users = org.list_users(session)
    roles = org.list_roles(session)
    lang = current_lang()
    role_choices = [(r.key, pick(r.label, lang, r.key)) for r in roles]
    return render_template(
        "admin_org.html", t=t, tree=tree, users=users,
        departments=_department_options(tree),
        active_users=[u for u in users if u.is_active],
        roles=role_choices, role_labels=dict(role_choices), failure=failure), status


def _refused(form: str, exc: ValidationFailed | Conflict, status: int) -> tuple[str, int]:
    fields = exc.fields if isinstance(exc, ValidationFailed) else {}
    values = MultiDict([(k, v) for k, v in request.form.items(multi=True)
                        if k not in {"password", "csrf_token"}])
    return _render(Failure(form, fields, exc.message, values), status)


def _id_or_raw(value: str | None) -> Any:
    """A select's value: '' is none, ASCII digits in the id range an id; anything else
    (including "²" and ids too large for the database) goes to the service as text, which
    names the field in its refusal."""
    text = (value or "").strip()
    if not text:
        return None
    number = parse_id(text)
    return number if number is not None else text


def _back() -> Response:
    return redirect(url_for("admin.org_page"))


# --- pages ------------------------------------------------------------------------------------


@admin_bp.route("/org")
def org_page() -> tuple[str, int]:
    _require_admin()
    return _render()


@admin_bp.route("/org/departments", methods=["POST"])
def add_department() -> Any:
    actor = _require_admin()
    try:
        org.create_department(db_session(), request.form.get("name", ""),
                              _id_or_raw(request.form.get("parent_id")),
                              _id_or_raw(request.form.get("head_user_id")),
                              actor_id=actor.user_id)
    except ValidationFailed as exc:
        return _refused("add_department", exc, 422)
    flash(t("saved_department"), "success")
    return _back()


@admin_bp.route("/org/departments/<int:dept_id>", methods=["POST"])
def edit_department(dept_id: int) -> Any:
    actor = _require_admin()
    changes = {"name": request.form.get("name", ""),
               "parent_id": _id_or_raw(request.form.get("parent_id")),
               "head_user_id": _id_or_raw(request.form.get("head_user_id"))}
    try:
        org.update_department(db_session(), dept_id, changes, actor_id=actor.user_id)
    except ValidationFailed as exc:
        return _refused(f"dept-{dept_id}", exc, 422)
    flash(t("saved_department"), "success")
    return _back()


@admin_bp.route("/org/departments/<int:dept_id>/delete", methods=["POST"])
def delete_department(dept_id: int) -> Any:
    actor = _require_admin()
    try:
        org.delete_department(db_session(), dept_id, actor_id=actor.user_id)
    except Conflict as exc:
        return _refused(f"dept-{dept_id}", exc, 409)
    flash(t("deleted_department"), "success")
    return _back()


@admin_bp.route("/org/users", methods=["POST"])
def add_user() -> Any:
    actor = _require_admin()
    form = request.form
    try:
        org.add_user(db_session(), username=form.get("username", "").strip(),
                     password=form.get("password", ""),
                     display_name=form.get("display_name", "").strip() or None,
                     department_id=_id_or_raw(form.get("department_id")),
                     roles=form.getlist("roles"), language=form.get("language") or None,
                     actor_id=actor.user_id)
    except ValidationFailed as exc:
        return _refused("add_user", exc, 422)
    flash(t("saved_user"), "success")
    return _back()


@admin_bp.route("/org/users/<int:user_id>", methods=["POST"])
def edit_user(user_id: int) -> Any:
    actor = _require_admin()
    form = request.form  # the edit form always sends every field; an unticked box is off
    changes = {"display_name": form.get("display_name", ""),
               "department_id": _id_or_raw(form.get("department_id")),
               "roles": form.getlist("roles"), "is_active": form.get("is_active") == "1",
               "language": form.get("language") or None}
    try:
        org.update_user(db_session(), user_id, changes, actor_id=actor.user_id)
    except ValidationFailed as exc:
        return _refused(f"user-{user_id}", exc, 422)
    flash(t("saved_user"), "success")
    return _back()


@admin_bp.route("/org/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int) -> Any:
    actor = _require_admin()
    try:
        org.reset_password(db_session(), user_id, request.form.get("password", ""),
                           actor_id=actor.user_id)
    except ValidationFailed as exc:
        return _refused(f"password-{user_id}", exc, 422)
    flash(t("password_reset"), "success")
    return _back()


@admin_bp.route("/org/users/<int:user_id>/unlock", methods=["POST"])
def unlock_user(user_id: int) -> Response:
    actor = _require_admin()
    org.unlock_user(db_session(), user_id, actor_id=actor.user_id)
    flash(t("unlocked"), "success")
    return _back()
