"""The home page (installed apps and their forms) and the navigation every page shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, g, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendbase import db
from lendbase.forms.compile import CompiledSchema
from lendbase.records.permissions import Actor, access_for
from lendbase.web.context import compiled_schema, current_actor, db_session
from lendbase.web.i18n import current_lang, pick, translate

home_bp = Blueprint("home", __name__, template_folder="templates")


@dataclass
class NavForm:
    key: str
    label: str
    description: str
    can_create: bool


@dataclass
class NavApp:
    key: str
    label: str
    description: str
    version: str
    forms: list[NavForm] = field(default_factory=list)


def _form_keys(documents: Any) -> list[str]:
    """Form keys an app installed, whatever shape the installer recorded them in:
    ``{"forms": [...]}``, ``{"forms": {key: checksum}}``, ``{"forms/key": ...}``, or a list of
    ``"forms/key"`` strings or ``{"kind": "forms", "key": ...}`` objects."""
    keys: list[str] = []
    if isinstance(documents, dict):
        forms = documents.get("forms")
        if isinstance(forms, list):
            for item in forms:
                if isinstance(item, str):
                    keys.append(item)
                elif isinstance(item, dict) and "key" in item:
                    keys.append(str(item["key"]))
        elif isinstance(forms, dict):
            keys.extend(str(k) for k in forms)
        else:
            keys.extend(k.split("/", 1)[1] for k in documents if str(k).startswith("forms/"))
    elif isinstance(documents, list):
        for item in documents:
            if isinstance(item, str) and item.startswith("forms/"):
                keys.append(item.split("/", 1)[1])
            elif isinstance(item, dict) and item.get("kind") == "forms" and "key" in item:
                keys.append(str(item["key"]))
    return keys


def app_form_order(session: Session) -> list[str]:
    """Form keys in navigation order: apps by installation, each app's forms in its order."""
    rows = session.execute(select(db.app_install.c.documents).order_by(
        db.app_install.c.installed_at, db.app_install.c.key)).scalars()
    keys: list[str] = []
    for documents in rows:
        keys += [k for k in _form_keys(documents) if k not in keys]
    return keys


def navigation(session: Session, schema: CompiledSchema, actor: Actor,
               lang: str) -> list[NavApp]:
    """The installed apps with the published forms the actor may read; other readable forms
    go to a last group."""
    readable: dict[str, NavForm] = {}
    for key, cf in schema.forms.items():
        access = access_for(actor, cf.form)
        if access.can("read"):
            readable[key] = NavForm(key, pick(cf.form.label, lang, key),
                                    pick(cf.form.description, lang), access.can("create"))
    apps: list[NavApp] = []
    rows = session.execute(select(db.app_install).order_by(db.app_install.c.installed_at,
                                                           db.app_install.c.key)).all()
    placed: set[str] = set()
    for row in rows:
        app = NavApp(row.key, pick(row.label, lang, row.key), "", row.version)
        documents = row.documents
        if isinstance(documents, dict) and isinstance(documents.get("description"), dict):
            app.description = pick(documents["description"], lang)
        for key in _form_keys(documents):
            if key in readable and key not in placed:
                app.forms.append(readable[key])
                placed.add(key)
        if app.forms:
            apps.append(app)
    rest = [f for k, f in readable.items() if k not in placed]
    if rest:
        apps.append(NavApp("_other", translate("other_forms", lang), "", "", rest))
    return apps


def nav_for_request() -> list[NavApp]:
    """The navigation of this request, computed once and only for signed-in pages."""
    if "lb_nav" not in g:
        actor = current_actor()
        g.lb_nav = [] if actor is None else navigation(
            db_session(), compiled_schema(), actor, current_lang())
    return g.lb_nav


def all_forms(apps: Iterable[NavApp]) -> list[NavForm]:
    return [f for app in apps for f in app.forms]


@home_bp.route("/")
def index() -> str:
    return render_template("home.html", apps=nav_for_request())
