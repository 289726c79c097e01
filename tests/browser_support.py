"""What the browser tests share: Debian's Chromium and its launch flags, the npm packages the
pages need, and the app served on a free local port. The test command installs all of it; a
missing piece is a broken set-up that fails the run, never a silent skip."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("LENDBASE_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--lang=zh-CN"]


def require_browser_setup(*npm_paths: str) -> None:
    """Fail the module when Chromium or an npm package (a path under node_modules) is absent."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk",
                    pytrace=False)
    for path in npm_paths:
        if not (ROOT / "node_modules" / path).is_dir():
            pytest.fail(f"node_modules/{path} is missing: run npm ci", pytrace=False)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port, in a thread, for the length of the block."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def app_with_admin(var_dir: Path, password: str) -> tuple[Any, Any, int]:
    """A fresh app on ``var_dir`` with the platform tables and an ``admin`` superuser:
    (app, its LendBase state, the admin's user id)."""
    from lendbase import db
    from lendbase.app import create_app
    from lendbase.auth.users import create_user, ensure_role
    from lendbase.config import load_settings

    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(var_dir)}))
    state = app.extensions["lendbase"]
    db.platform_metadata.create_all(state.engine)
    with state.sessions.begin() as session:
        ensure_role(session, "admin", {"zh": "管理员", "en": "Administrator"}, superuser=True)
        admin_id = create_user(session, "admin", password, ["admin"], display_name="系统管理员")
    return app, state, admin_id
