"""Settings from environment variables, each checked with a one-line error that says how to fix it.

Embedded mode (no ``DATABASE_URL``): SQLite under ``var/``; a secret key and a field-encryption
key are generated once into ``var/`` so the one-command demo needs no set-up. Production mode
(``DATABASE_URL`` set): ``SECRET_KEY`` and ``LENDBASE_FIELD_KEY`` must be given explicitly.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from lendbase.errors import ConfigError

_KEY_HINT = (
    'generate one with: python -c "import secrets,base64;'
    'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
)


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    field_key: str
    old_field_keys: tuple[str, ...]
    var_dir: Path
    embedded: bool
    default_language: str = "zh"
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    #: the limit of a file field that sets no ``max_size_mb`` of its own
    upload_max_bytes: int = 10 * 1024 * 1024
    #: the largest file any field may accept (a request's body is capped just above it)
    upload_ceiling_bytes: int = 50 * 1024 * 1024

    @property
    def upload_dir(self) -> Path:
        return self.var_dir / "files"


def _read_or_create_secret(path: Path, factory: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = factory()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _new_field_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def check_field_key(value: str, name: str = "LENDBASE_FIELD_KEY") -> str:
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"{name} must be 32 random bytes in url-safe base64; {_KEY_HINT}")
    return value


def _check_database_url(url: str) -> str:
    scheme = urlparse(url).scheme
    if not scheme.startswith(("sqlite", "postgresql")):
        raise ConfigError(
            f"DATABASE_URL {url!r} is not supported; use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        )
    if scheme == "postgresql" or scheme == "postgres":
        # SQLAlchemy would pick psycopg2 which we do not ship; use psycopg 3.
        url = "postgresql+psycopg" + url[len(scheme):]
    return url


def _check_redis_url(url: str | None) -> str | None:
    if not url:
        return None
    if urlparse(url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"REDIS_URL {url!r} must start with redis://, rediss:// or unix://")
    return url


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default ``os.environ``)."""
    env = dict(os.environ if env is None else env)
    var_dir = Path(env.get("LENDBASE_VAR_DIR") or Path.cwd() / "var").resolve()
    db_url = env.get("DATABASE_URL", "").strip()
    embedded = not db_url
    if embedded:
        db_url = f"sqlite:///{var_dir / 'lendbase.db'}"
    db_url = _check_database_url(db_url)

    secret_key = env.get("SECRET_KEY", "").strip()
    field_key = env.get("LENDBASE_FIELD_KEY", "").strip()
    if embedded:
        secret_key = secret_key or _read_or_create_secret(
            var_dir / "secret_key", lambda: secrets.token_urlsafe(48)
        )
        field_key = field_key or _read_or_create_secret(var_dir / "field_key", _new_field_key)
    else:
        if len(secret_key) < 16:
            raise ConfigError(
                "SECRET_KEY is missing or shorter than 16 characters; set it to a long random "
                'string, e.g. python -c "import secrets;print(secrets.token_urlsafe(48))"'
            )
        if not field_key:
            raise ConfigError(f"LENDBASE_FIELD_KEY is missing; {_KEY_HINT}")
    check_field_key(field_key)
    old_keys = tuple(
        check_field_key(k.strip(), "LENDBASE_OLD_FIELD_KEYS")
        for k in env.get("LENDBASE_OLD_FIELD_KEYS", "").split(",")
        if k.strip()
    )
    language = env.get("LENDBASE_LANGUAGE", "zh")
    if language not in {"zh", "en"}:
        raise ConfigError(f"LENDBASE_LANGUAGE {language!r} must be 'zh' or 'en'")
    ceiling_mb = env.get("LENDBASE_MAX_UPLOAD_MB", "50").strip()
    if not ceiling_mb.isdigit() or not 1 <= int(ceiling_mb) <= 2048:
        raise ConfigError(f"LENDBASE_MAX_UPLOAD_MB {ceiling_mb!r} must be a whole number of "
                          "megabytes between 1 and 2048, e.g. 50")
    return Settings(
        database_url=db_url,
        redis_url=_check_redis_url(env.get("REDIS_URL", "").strip()),
        secret_key=secret_key,
        field_key=field_key,
        old_field_keys=old_keys,
        var_dir=var_dir,
        embedded=embedded,
        default_language=language,
        upload_ceiling_bytes=int(ceiling_mb) * 1024 * 1024,
    )
