"""Settings: embedded defaults work with no set-up; bad settings fail in one clear line."""

from __future__ import annotations

import pytest

from lendbase.config import load_settings
from lendbase.errors import ConfigError

GOOD_KEY = "q0mJ9x0n3o3sY9lQ0vT3JvN1o1sBf5X0zj0Wf7rWm9U="


def test_embedded_defaults_generate_keys_once(tmp_path) -> None:
    first = load_settings({"LENDBASE_VAR_DIR": str(tmp_path)})
    again = load_settings({"LENDBASE_VAR_DIR": str(tmp_path)})
    assert first.embedded and first.database_url.startswith("sqlite:///")
    assert first.secret_key == again.secret_key and first.field_key == again.field_key
    assert first.redis_url is None


@pytest.mark.parametrize("env, expected", [
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL 'mysql://x' is not supported"),
    ({"DATABASE_URL": "postgresql://u@h/db"}, "SECRET_KEY is missing"),
    ({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "s" * 20}, "LENDBASE_FIELD_KEY is"),
    ({"DATABASE_URL": "postgresql://u@h/db", "SECRET_KEY": "s" * 20,
      "LENDBASE_FIELD_KEY": "short"}, "must be 32 random bytes"),
    ({"REDIS_URL": "http://localhost"}, "REDIS_URL 'http://localhost' must start with redis://"),
    ({"LENDBASE_LANGUAGE": "fr"}, "'fr' must be 'zh' or 'en'"),
])
def test_bad_settings_say_how_to_fix(tmp_path, env, expected) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"LENDBASE_VAR_DIR": str(tmp_path), **env})
    assert expected in info.value.message
    assert "\n" not in info.value.message


def test_postgres_url_uses_psycopg3(tmp_path) -> None:
    settings = load_settings({"LENDBASE_VAR_DIR": str(tmp_path), "SECRET_KEY": "s" * 20,
                              "DATABASE_URL": "postgresql://u@h:5432/db",
                              "LENDBASE_FIELD_KEY": GOOD_KEY})
    assert settings.database_url == "postgresql+psycopg://u@h:5432/db"
    assert not settings.embedded
