"""Who is calling the API: a bearer token, or the web session cookie plus a CSRF header."""

from __future__ import annotations

from flask import g, request, session
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from lendbase.auth.tokens import current_session_stamp, user_for_token
from lendbase.auth.users import load_actor
from lendbase.errors import NotAuthenticated, PermissionDenied
from lendbase.records.permissions import Actor
from lendbase.web.context import db_session

_SAFE = {"GET", "HEAD", "OPTIONS"}


def api_actor() -> Actor:
    if g.get("actor") is not None:
        return g.actor
    header = request.headers.get("Authorization", "")
    lang = request.headers.get("Accept-Language", "en")[:2]
    lang = lang if lang in {"zh", "en"} else "en"
    if header.lower().startswith("bearer "):
        user_id = user_for_token(db_session(), header[7:].strip())
    elif session.get("uid"):
        if request.method not in _SAFE:
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except (ValidationError, CSRFError):
                raise PermissionDenied("a cookie-authenticated API call needs the X-CSRFToken "
                                       "header; or use a bearer token") from None
        user_id = int(session["uid"])
        # the same check as the pages: a password reset or deactivation ends the session
        stamp = current_session_stamp(db_session(), user_id)
        if stamp is None or session.get("pwv") != stamp:
            raise NotAuthenticated("your session has ended (password changed or account "
                                   "deactivated); sign in again")
        lang = session.get("lang", lang)
    else:
        raise NotAuthenticated("send 'Authorization: Bearer <token>'; get a token from "
                               "POST /api/v1/auth/token")
    g.actor = load_actor(db_session(), user_id, lang)
    return g.actor


def require_admin() -> Actor:
    actor = api_actor()
    if not actor.superuser:
        raise PermissionDenied("only administrators may change metadata")
    return actor
