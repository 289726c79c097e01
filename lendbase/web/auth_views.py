"""Sign-in, sign-out, the language switch and who the request acts as.

The signed session cookie holds the user id and the chosen language only; the Actor (roles,
team) is loaded from the database on every page request, so a changed role or a deactivated
user takes effect at once.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from lendbase import db
from lendbase.auth.tokens import current_session_stamp
from lendbase.auth.users import AccountLocked, authenticate, load_actor
from lendbase.errors import NotAuthenticated, NotFound
from lendbase.web.context import db_session, keep_changes, state
from lendbase.web.errors import is_api_path, json_error, wants_json
from lendbase.web.i18n import LANGUAGES, current_lang, translate

auth_bp = Blueprint("account", __name__, template_folder="templates")

#: Endpoints a signed-out visitor may reach.
STATIC_ENDPOINTS = frozenset({"static_files.static", "static_files.vendor"})
PUBLIC_ENDPOINTS = frozenset({"account.login", "account.set_language", *STATIC_ENDPOINTS})


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never an absolute URL or a scheme-relative ``//host``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def is_page_request() -> bool:
    """True for requests the web pages own (everything but the JSON API)."""
    return not is_api_path()


def load_request_actor() -> Response | None:
    """Before each page request: who is signed in; send strangers to the sign-in page."""
    if not is_page_request() or request.endpoint in STATIC_ENDPOINTS:
        return None  # the API authenticates by token; static files need no user
    user_id = session.get("uid")
    if user_id is not None:
        stamp = current_session_stamp(db_session(), int(user_id))
        if stamp is None or session.get("pwv") != stamp:
            # Password reset or user deactivated since sign-in: this session is over.
            session.pop("uid", None)
            session.pop("pwv", None)
            user_id = None
    if user_id is not None:
        try:
            g.actor = load_actor(db_session(), int(user_id), current_lang())
            g.user_display = _display_name(int(user_id))
        except NotFound:
            session.pop("uid", None)
    if g.get("actor") is None and request.endpoint not in PUBLIC_ENDPOINTS \
            and request.endpoint is not None:
        if wants_json():
            return json_error("not_authenticated", translate("login_required"), 401)
        if request.method == "GET":
            flash(translate("login_required"), "info")
            return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("account.login"))
    return None


def _display_name(user_id: int) -> str:
    row = db_session().execute(
        select(db.user.c.display_name, db.user.c.username).where(db.user.c.id == user_id)
    ).first()
    return (row.display_name or row.username) if row else ""


@auth_bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.get("actor") is not None:
            return redirect(next_url)
        return render_template("login.html", next_url=next_url, username="", error=None)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    settings = state().settings
    try:
        user_id = authenticate(
            db_session(), username, password, max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes))
    except AccountLocked as locked:  # told only after a correct password
        keep_changes()
        error = translate("login_locked", minutes=locked.minutes)
        return render_template("login.html", next_url=next_url, username=username,
                               error=error), 401
    except NotAuthenticated:
        keep_changes()  # the failure counter / lock must be committed despite the 401
        # the same words whether or not the account exists or is locked
        error = translate("login_failed")
        current_app.logger.info("failed sign-in for %r from %s", username, request.remote_addr)
        return render_template("login.html", next_url=next_url, username=username,
                               error=error), 401
    lang = session.get("lang")
    session.clear()  # a fresh session on sign-in: no fixation of a pre-login cookie
    session["uid"] = user_id
    session["pwv"] = current_session_stamp(db_session(), user_id)  # see load_request_actor
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(next_url)


@auth_bp.route("/logout", methods=["POST"])
def logout() -> Response:
    lang = session.get("lang")
    session.clear()
    if lang in LANGUAGES:
        session["lang"] = lang
    flash(translate("logged_out"), "success")
    return redirect(url_for("account.login"))


@auth_bp.route("/lang/<lang>")
def set_language(lang: str) -> Response:
    if lang in LANGUAGES:
        session["lang"] = lang
    fallback = request.referrer or "/"
    ref = urlsplit(fallback)
    if ref.netloc and ref.netloc != request.host:
        fallback = "/"
    else:
        fallback = (ref.path or "/") + (f"?{ref.query}" if ref.query else "")
    return redirect(safe_next(request.args.get("next"), safe_next(fallback)))
