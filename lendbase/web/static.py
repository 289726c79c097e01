"""Static files: our own assets under ``lendbase/web/static/`` and the npm libraries.

The app is created with ``static_folder=None`` so that these routes are the only static ones.
Third-party libraries come from ``node_modules/`` at the project root (the parent of the
``lendbase`` package), installed by ``npm ci`` from ``package-lock.json``; pages still render
without them (unstyled), and the log says how to fix it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Flask, abort, send_from_directory
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = PROJECT_ROOT / "node_modules"

#: URL name -> folder inside node_modules that is served under /static/vendor/<name>/.
VENDOR_DIRS: dict[str, str] = {
    "bootstrap": "bootstrap/dist",
    "bootstrap-icons": "bootstrap-icons/font",
    "sortablejs": "sortablejs/modular",  # the form builder's drag and drop (ES module build)
}

static_bp = Blueprint("static_files", __name__)

_CACHE_SECONDS = 3600


@static_bp.route("/static/<path:filename>", endpoint="static")
def own_static(filename: str) -> Response:
    return send_from_directory(STATIC_DIR, filename, max_age=_CACHE_SECONDS)


@static_bp.route("/static/vendor/<name>/<path:filename>", endpoint="vendor")
def vendor_static(name: str, filename: str) -> Response:
    folder = VENDOR_DIRS.get(name)
    if folder is None:
        abort(404)
    root = NODE_MODULES / folder
    if not root.is_dir():
        abort(404)
    return send_from_directory(root, filename, max_age=_CACHE_SECONDS)


def check_vendor_files(app: Flask) -> bool:
    """Log once at start-up when the npm libraries are missing; the pages still render."""
    missing = [name for name, folder in VENDOR_DIRS.items()
               if not (NODE_MODULES / folder).is_dir()]
    if missing:
        app.logger.warning(
            "front-end libraries %s are missing from %s: pages render unstyled; "
            "run npm ci in %s", ", ".join(missing), NODE_MODULES, PROJECT_ROOT)
        return False
    return True


def init_static(app: Flask) -> None:
    app.register_blueprint(static_bp)
    app.extensions["lendbase_vendor_ok"] = check_vendor_files(app)
