"""Organisation endpoints: the department tree, users and roles.

Every signed-in user may read the tree, the user list and the roles (pickers need them), with
the public fields of a user only; administrators see the rest, make every change and read the
change log of a department or user (``GET /org/log?subject=org/user/12``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.app import check_ids
from lendbase.auth import org
from lendbase.changelog import changes_of
from lendbase.errors import PermissionDenied
from lendbase.records.permissions import Actor
from lendbase.web.context import db_session

blp = Blueprint("org", __name__, url_prefix="/api/v1",
                description="Organisation: departments, users and roles")

_PUBLIC_USER_FIELDS = ("id", "username", "display_name", "department_id", "department_name",
                       "is_active")


def _admin(doing: str = "change departments and users") -> Actor:
    actor = api_actor()
    if not actor.superuser:
        raise PermissionDenied(f"only administrators may {doing}")
    return actor


def _user_dict(user: org.UserInfo, full: bool) -> dict[str, Any]:
    data = asdict(user)
    if not full:
        return {key: data[key] for key in _PUBLIC_USER_FIELDS}
    data["roles"] = list(user.roles)
    data["locked"] = user.locked()
    return data


# --- departments ------------------------------------------------------------------------------


@blp.route("/org/departments")
@blp.response(200, s.DepartmentNodeSchema(many=True))
@blp.alt_response(401, schema=s.ApiError)
def department_tree() -> Any:
    api_actor()
    return org.department_tree(db_session())


@blp.route("/org/departments", methods=["POST"])
@blp.arguments(s.DepartmentCreate)
@blp.response(201, s.DepartmentSchema)
@blp.alt_response(403, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError)
def create_department(body: dict[str, Any]) -> Any:
    actor = _admin()
    check_ids(body, "parent_id", "head_user_id")
    dept_id = org.create_department(db_session(), body["name"], body["parent_id"],
                                    body["head_user_id"], actor_id=actor.user_id)
    return org.get_department(db_session(), dept_id)


@blp.route("/org/departments/<int:dept_id>", methods=["PATCH"])
@blp.arguments(s.DepartmentUpdate)
@blp.response(200, s.DepartmentSchema)
@blp.alt_response(404, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError, description="e.g. a move under its own branch")
def update_department(body: dict[str, Any], dept_id: int) -> Any:
    actor = _admin()
    check_ids(body, "parent_id", "head_user_id")
    org.update_department(db_session(), dept_id, body, actor_id=actor.user_id)
    return org.get_department(db_session(), dept_id)


@blp.route("/org/departments/<int:dept_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(404, schema=s.ApiError)
@blp.alt_response(409, schema=s.ApiError, description="it still has users or sub-departments")
def delete_department(dept_id: int) -> Any:
    actor = _admin()
    org.delete_department(db_session(), dept_id, actor_id=actor.user_id)
    return None


class OrgLogArgs(Schema):
    subject = fields.String(
        required=True,
        validate=validate.Regexp(r"^org/(user|department)/[0-9]+$",
                                 error="use org/user/<id> or org/department/<id>"),
        metadata={"description": "org/user/<id> or org/department/<id>"})


@blp.route("/org/log")
@blp.arguments(OrgLogArgs, location="query")
@blp.response(200, s.ChangeEntry(many=True))
@blp.alt_response(403, schema=s.ApiError)
def change_log(args: dict[str, Any]) -> Any:
    """Every change of a department or user, newest first, with who made it."""
    _admin("read the organisation's change log")
    return changes_of(db_session(), args["subject"])


# --- users ------------------------------------------------------------------------------------


@blp.route("/users")
@blp.arguments(s.UserListArgs, location="query")
@blp.response(200, s.UserSchema(many=True))
def list_users(args: dict[str, Any]) -> Any:
    full = api_actor().superuser
    check_ids(args, "department_id")
    users = org.list_users(db_session(), department_id=args.get("department_id"),
                           active=args.get("active"), q=args.get("q"))
    return [_user_dict(u, full) for u in users]


@blp.route("/users", methods=["POST"])
@blp.arguments(s.UserCreate)
@blp.response(201, s.UserSchema)
@blp.alt_response(403, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError)
def create_user(body: dict[str, Any]) -> Any:
    actor = _admin()
    check_ids(body, "department_id")
    user_id = org.add_user(db_session(), **body, actor_id=actor.user_id)
    return _user_dict(org.get_user(db_session(), user_id), full=True)


@blp.route("/users/<int:user_id>")
@blp.response(200, s.UserSchema)
@blp.alt_response(404, schema=s.ApiError)
def get_user(user_id: int) -> Any:
    full = api_actor().superuser
    return _user_dict(org.get_user(db_session(), user_id), full)


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@blp.arguments(s.UserUpdate)
@blp.response(200, s.UserSchema)
@blp.alt_response(404, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError)
def update_user(body: dict[str, Any], user_id: int) -> Any:
    actor = _admin()
    check_ids(body, "department_id")
    org.update_user(db_session(), user_id, body, actor_id=actor.user_id)
    return _user_dict(org.get_user(db_session(), user_id), full=True)


@blp.route("/users/<int:user_id>/password", methods=["POST"])
@blp.arguments(s.PasswordBody)
@blp.response(204)
@blp.alt_response(404, schema=s.ApiError)
@blp.alt_response(422, schema=s.ApiError, description="the password is too weak")
def reset_password(body: dict[str, Any], user_id: int) -> Any:
    actor = _admin()
    org.reset_password(db_session(), user_id, body["password"], actor_id=actor.user_id)
    return None


@blp.route("/users/<int:user_id>/unlock", methods=["POST"])
@blp.response(200, s.UserSchema)
@blp.alt_response(404, schema=s.ApiError)
def unlock_user(user_id: int) -> Any:
    actor = _admin()
    org.unlock_user(db_session(), user_id, actor_id=actor.user_id)
    return _user_dict(org.get_user(db_session(), user_id), full=True)


@blp.route("/roles")
@blp.response(200, s.RoleSchema(many=True))
def list_roles() -> Any:
    api_actor()
    return org.list_roles(db_session())
