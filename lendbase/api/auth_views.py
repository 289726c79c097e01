"""Token and identity endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from lendbase.api import schemas as s
from lendbase.api.auth import api_actor
from lendbase.auth.tokens import issue_token
from lendbase.auth.users import authenticate
from lendbase.web.context import db_session, keep_changes

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Authentication")


@blp.route("/token", methods=["POST"])
@blp.arguments(s.TokenRequest)
@blp.response(201, s.TokenResponse)
@blp.alt_response(401, schema=s.ApiError)
def token(body: dict[str, Any]) -> Any:
    settings = current_app.extensions["lendbase"].settings
    keep_changes()  # a failed attempt must still count towards the lock-out
    user_id = authenticate(db_session(), body["username"], body["password"],
                           max_failures=settings.login_max_failures,
                           lockout=timedelta(minutes=settings.login_lockout_minutes))
    value, expires = issue_token(db_session(), user_id)
    return {"token": value, "token_type": "Bearer", "expires_at": expires}


@blp.route("/me")
@blp.response(200, s.MeSchema)
def me() -> Any:
    actor = api_actor()
    return {"id": actor.user_id, "username": actor.username, "roles": sorted(actor.roles),
            "superuser": actor.superuser}
