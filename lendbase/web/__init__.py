"""The server-rendered pages: sign-in, home, lists, record forms and pages, error pages.

``init_web(app)`` wires them into the app: blueprints, CSRF protection of every page form
(the ``/api/`` paths use bearer tokens and are left alone), the sign-in guard, error pages and
the Jinja helpers the templates use.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, request
from flask_wtf.csrf import CSRFProtect

from lendbase.web.admin_views import admin_bp
from lendbase.web.auth_views import auth_bp, is_page_request, load_request_actor
from lendbase.web.builder_views import builder_bp
from lendbase.web.condition_views import conditions_bp
from lendbase.web.display import format_date, format_datetime, format_number
from lendbase.web.errors import register_page_error_handlers
from lendbase.web.files import files_bp
from lendbase.web.home_views import home_bp, nav_for_request
from lendbase.web.i18n import HTML_LANG, current_lang, pick, translate
from lendbase.web.jobs_views import jobs_bp
from lendbase.web.list_views import lists_bp
from lendbase.web.nav import admin_links, page_exists
from lendbase.web.record_views import records_bp
from lendbase.web.rules_views import rules_bp
from lendbase.web.segments_views import segments_bp
from lendbase.web.static import init_static, static_bp
from lendbase.web.work_views import work_bp

__all__ = ["csrf", "init_web"]

csrf = CSRFProtect()

PAGE_BLUEPRINTS = (auth_bp, home_bp, lists_bp, records_bp, files_bp, admin_bp, jobs_bp,
                   work_bp, segments_bp, conditions_bp, rules_bp)

# Blueprints are module objects shared by every app a process creates (tests create many), so
# their error handlers are attached once, here, before any registration.
for _bp in (*PAGE_BLUEPRINTS, static_bp):
    register_page_error_handlers(_bp)
register_page_error_handlers(builder_bp)  # the form builder


def _protect_pages() -> None:
    """CSRF check for every state-changing page request; ``/api/`` is exempt by path."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or not is_page_request():
        return
    csrf.protect(apply_exemptions=True)


def _exempt_api(app: Flask) -> None:
    api = app.blueprints.get("api")
    if api is not None:
        csrf.exempt(api)


def _template_globals() -> dict[str, Any]:
    lang = current_lang()
    actor = g.get("actor")
    return {
        "_": translate,
        "lang": lang,
        "html_lang": HTML_LANG.get(lang, lang),
        "pick": pick,
        "actor": actor,
        "user_display": g.get("user_display") or (actor.username if actor else ""),
        "nav_apps": nav_for_request if actor is not None else (lambda: []),
        "vendor_ok": current_app.extensions.get("lendbase_vendor_ok", True),
        "current_path": request.full_path.rstrip("?") if request else "/",
        "admin_links": (lambda: admin_links(lang)) if actor is not None and actor.superuser
        else (lambda: []),
        "page_exists": page_exists,
    }


def init_web(app: Flask) -> None:
    # Page forms carry the token; the API (bearer tokens) must not need one, so the default
    # all-routes check is replaced by one that skips /api/ paths.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    _exempt_api(app)
    app.before_request(_protect_pages)
    app.before_request(load_request_actor)

    init_static(app)
    for bp in PAGE_BLUEPRINTS:
        app.register_blueprint(bp)
    app.register_blueprint(builder_bp)
    from lendbase.web.lifecycle_views import init_lifecycle

    init_lifecycle(app)  # the record page's stage bar; SOP tasks on entering a stage

    app.context_processor(_template_globals)
    app.jinja_env.filters["label"] = pick
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
