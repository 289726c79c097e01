"""An app's risk control as metadata: tag groups, notification templates, segments and rules
declared in ``app.json`` install after its forms and seeds, work at once (a created record is
tagged and notified by the app's rule, a pool fills), never overwrite what an admin changed on
re-install, are refused with JSON pointers before anything changes, and survive export →
install into a fresh database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db
from lendbase.errors import MetadataError
from lendbase.forms.registry import FormRegistry
from lendbase.jobs import JobRuntime, get_schedule, save_schedule
from lendbase.meta.apps import InstallReport, export_app, install_app
from lendbase.meta.store import MetadataStore
from lendbase.records.permissions import Actor
from lendbase.records.service import RecordService
from lendbase.rules import RulesRuntime, bind_runtime
from lendbase.rules.engine import HANDLER as RULES_HANDLER
from lendbase.rules.engine import SUBSCRIBED as RULE_EVENTS
from lendbase.security import FieldCipher, generate_key_string
from lendbase.segments import jobs as segment_jobs
from lendbase.work import NotificationService, TagCatalog, TagService
from tests.sample_forms import label

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: no quiet hours


def clock() -> datetime:
    return NOW


def _option(value: str) -> dict[str, Any]:
    return {"value": value, "label": label(value, value)}


BRANCH = {"key": "branch", "label": label("网点", "Branch"), "title_field": "name",
          "fields": [{"key": "name", "type": "text", "label": label("名称", "Name"),
                      "required": True}]}
BORROWER = {
    "key": "borrower", "label": label("借款人", "Borrower"), "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": label("姓名", "Name"), "required": True},
        {"key": "mobile", "type": "phone", "label": label("手机", "Mobile")},
        {"key": "rating", "type": "select", "label": label("评级", "Rating"),
         "options": [_option("A"), _option("B"), _option("C")]},
        {"key": "branch", "type": "reference", "target": "branch",
         "label": label("网点", "Branch")},
    ],
}
WELCOME_RULE = {
    "key": "welcome_new", "label": label("新客欢迎", "Welcome new borrowers"),
    "form": "borrower", "trigger": {"type": "record_created"},
    "actions": [{"type": "add_tag", "tag": "new_borrower", "reason": "new borrower"},
                {"type": "notify", "template": "welcome_sms", "recipient_field": "mobile"}],
}
RATING_C_POOL = {
    "key": "rating_c_pool", "label": label("C级客户池", "Rating C pool"), "form": "borrower",
    "condition": {"field": "rating", "op": "=", "value": "C"},
    "on_enter": [{"type": "add_tag", "tag": "watch", "reason": "rating C"}],
}


def manifest() -> dict[str, Any]:
    return {
        "key": "mini_credit", "label": label("小贷", "Mini credit"), "version": "1.0.0",
        "description": label("测试用", "for tests"),
        "forms": ["branch", "borrower"],
        "roles": [{"key": "risk_officer", "label": label("风控", "Risk officer")}],
        "departments": [{"name": "总部", "children": [{"name": "风控组"}]}],
        "seed": {"branch": [{"name": "总部网点"}]},
        "schedules": [{"key": "mini_credit.pool", "cron": "0 3 * * *",
                       "timezone": "Asia/Shanghai",
                       "job": "lendbase.segments.jobs.recompute_job",
                       "args": {"segment": "rating_c_pool"}}],
        "tag_groups": [{"key": "risk_flags", "label": label("风险标记", "Risk flags"),
                        "exclusive": False, "manual": False, "roles": ["risk_officer"],
                        "tags": [{"key": "new_borrower", "label": label("新客", "New"),
                                  "color": "#1F8A4C"},
                                 {"key": "watch", "label": label("关注", "Watch")}]}],
        "notification_templates": [{"key": "welcome_sms", "label": label("欢迎", "Welcome"),
                                    "channel": "sms", "form_key": "borrower",
                                    "body": "【信贷】{{ name }}您好，欢迎。"}],
        "segments": ["rating_c_pool"],
        "rules": ["welcome_new"],
    }


def write_app(folder: Path, app: dict[str, Any] | None = None,
              docs: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """An app folder: ``app.json`` and its documents by kind."""
    docs = docs if docs is not None else {"forms": [BRANCH, BORROWER],
                                          "segments": [RATING_C_POOL], "rules": [WELCOME_RULE]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.json").write_text(json.dumps(app or manifest(), ensure_ascii=False), "utf-8")
    for kind, items in docs.items():
        (folder / kind).mkdir(exist_ok=True)
        for doc in items:
            (folder / kind / f"{doc['key']}.json").write_text(
                json.dumps(doc, ensure_ascii=False), "utf-8")
    return folder


class Platform:
    """One database with a rules runtime and the in-process job runtime (event handlers of
    rules and segments subscribed), as an app server has."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.cipher = FieldCipher.from_key_string(generate_key_string())
        self.runtime = RulesRuntime(FormRegistry(), cipher=self.cipher, clock=clock)
        bind_runtime(engine, self.runtime)
        self.jobs = JobRuntime(self.sessions, clock=clock)
        self.jobs.subscribers.subscribe_many(RULE_EVENTS, RULES_HANDLER)
        segment_jobs.subscribe(self.jobs.subscribers)

    def install(self, folder: Path) -> tuple[InstallReport, list[str]]:
        lines: list[str] = []
        with self.sessions.begin() as session:
            report = install_app(session, folder, progress=lines.append, cipher=self.cipher)
        return report, lines

    def create(self, form: str, values: dict[str, Any]) -> int:
        with self.sessions.begin() as session:
            schema = self.runtime.forms.schema(session)
            service = RecordService(session, schema, Actor.system(), self.cipher, clock)
            return int(service.create(form, values)["id"])

    def tags_of(self, form: str, record_id: int) -> set[str]:
        with self.sessions() as session:
            return {t.tag_key for t in TagService(session, Actor.system(), clock)
                    .tags_of(form, record_id)}

    def counts(self) -> dict[str, int]:
        with self.sessions() as session:
            return table_counts(session)


def table_counts(session: Session) -> dict[str, int]:
    return {t.name: int(session.execute(select(func.count()).select_from(t)).scalar_one())
            for t in db.platform_metadata.sorted_tables}


def _second_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty database of the same dialect as ``engine``."""
    if engine.dialect.name == "sqlite":
        other = db.make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        db.platform_metadata.create_all(other)
        yield other
        other.dispose()
    else:
        from tests.conftest import _pg_engine_with_schema

        for other in _pg_engine_with_schema():
            db.platform_metadata.create_all(other)
            yield other


@pytest.fixture
def platform(engine: Engine) -> Platform:
    return Platform(engine)


@pytest.fixture
def fresh(engine: Engine, tmp_path: Path) -> Iterator[Platform]:
    for other in _second_engine(engine, tmp_path):
        yield Platform(other)


# --- install ----------------------------------------------------------------------------------


def test_install_creates_the_risk_control_and_it_works(platform: Platform,
                                                       tmp_path: Path) -> None:
    report, lines = platform.install(write_app(tmp_path / "app"))
    assert report.published == ["branch", "borrower"]
    assert report.installed == [
        "schedules/mini_credit.pool", "tag_groups/risk_flags", "tags/new_borrower",
        "tags/watch", "notification_templates/welcome_sms", "segments/rating_c_pool",
        "rules/welcome_new"]
    assert report.kept == []
    # progress lines in install order: the seed before the tags, the segment before the rule
    assert lines == [
        "published form branch", "published form borrower",
        "seeded form branch with 1 record(s)",
        "scheduled mini_credit.pool (0 3 * * *, Asia/Shanghai)",
        "created tag group risk_flags", "added 2 tag(s) to group risk_flags: new_borrower, watch",
        "created notification template welcome_sms (sms)",
        "published segment rating_c_pool", "published rule welcome_new"]
    with platform.sessions() as session:
        catalog = TagCatalog(session, Actor.system())
        group = catalog.group("risk_flags")
        assert (group.exclusive, group.manual, group.roles) == (False, False, ("risk_officer",))
        assert [(t.key, t.color) for t in catalog.tags("risk_flags")] == [
            ("new_borrower", "#1f8a4c"), ("watch", "#6c757d")]
        template = NotificationService(session, Actor.system()).template("welcome_sms")
        assert (template.channel.value, template.form_key) == ("sms", "borrower")
        store = MetadataStore(session, None)
        for kind, doc in (("rules", WELCOME_RULE), ("segments", RATING_C_POOL)):
            published = store.published(kind, doc["key"])
            assert published is not None and published.doc == doc
            assert published.note == "app mini_credit 1.0.0"
        assert get_schedule(session, "mini_credit.pool").args == {"segment": "rating_c_pool"}
        assert get_schedule(session, "segment:rating_c_pool").enabled  # the publisher's
        installed = session.execute(select(db.app_install.c.documents)).scalar_one()
        assert installed["rules"] == ["welcome_new"]
        assert installed["seed"] == {"branch": [{"name": "总部网点"}]}
    platform.jobs.run_until_idle()  # the segment's first recompute, the seed's events
    # the app's rule and pool act on records created afterwards
    plain = platform.create("borrower", {"name": "张三", "mobile": "13800138000",
                                         "rating": "A"})
    risky = platform.create("borrower", {"name": "李四", "mobile": "13900139000",
                                         "rating": "C"})
    platform.jobs.run_until_idle()
    assert platform.tags_of("borrower", plain) == {"new_borrower"}
    assert platform.tags_of("borrower", risky) == {"new_borrower", "watch"}
    with platform.sessions() as session:
        sent = session.execute(select(db.notification.c.recipient, db.notification.c.body,
                                      db.notification.c.status)
                               .order_by(db.notification.c.id)).all()
        members = session.execute(select(db.segment_member.c.record_id)).scalars().all()
    assert [tuple(r) for r in sent] == [("13800138000", "【信贷】张三您好，欢迎。", "sent"),
                                        ("13900139000", "【信贷】李四您好，欢迎。", "sent")]
    assert members == [risky]


def test_reinstall_keeps_what_an_admin_changed(platform: Platform, tmp_path: Path) -> None:
    folder = write_app(tmp_path / "app")
    platform.install(folder)
    before = platform.counts()
    again, lines = platform.install(folder)
    assert (again.published, again.installed, lines) == ([], [], [])
    assert again.unchanged == ["branch", "borrower"]
    assert sorted(again.kept) == sorted([
        "schedules/mini_credit.pool", "tag_groups/risk_flags", "tags/new_borrower",
        "tags/watch", "notification_templates/welcome_sms", "segments/rating_c_pool",
        "rules/welcome_new"])
    assert platform.counts() == before  # nothing written at all
    # an admin edits the rule's draft, a tag, the template and the schedule
    edited_rule = {**WELCOME_RULE, "label": label("新客欢迎（改）", "Welcome (edited)")}
    with platform.sessions.begin() as session:
        store = MetadataStore(session, None)
        store.save_draft("rules", "welcome_new", edited_rule,
                         store.get_draft("rules", "welcome_new").lock_version)
        TagCatalog(session, Actor.system()).save_tag("watch", "risk_flags",
                                                     label("重点关注", "Watch"),
                                                     color="#c0392b")
        NotificationService(session, Actor.system()).save_template(
            "welcome_sms", label=label("欢迎", "Welcome"), channel="sms", form_key="borrower",
            body="【信贷】{{ name }}，欢迎您。")
        save_schedule(session, "mini_credit.pool", "0 4 * * *",
                      "lendbase.segments.jobs.recompute_job", {"segment": "rating_c_pool"},
                      timezone="Asia/Shanghai", enabled=False, now=NOW)
    # the next version of the app adds a tag to its group
    upgraded = manifest()
    upgraded["version"] = "1.1.0"
    upgraded["tag_groups"][0]["tags"].append({"key": "early_repayer",
                                              "label": label("提前还款", "Early repayer")})
    report, lines = platform.install(write_app(folder, upgraded))
    assert report.installed == ["tags/early_repayer"]
    assert "kept rule welcome_new: it exists and differs from the app's; not overwritten" in lines
    assert "kept tag watch: it exists and differs from the app's; not overwritten" in lines
    assert ("kept notification template welcome_sms: it exists and differs from the app's; "
            "not overwritten") in lines
    assert "added 1 tag(s) to group risk_flags: early_repayer" in lines
    with platform.sessions() as session:
        store = MetadataStore(session, None)
        assert store.get_draft("rules", "welcome_new").doc == edited_rule
        assert [v.version for v in store.versions("rules", "welcome_new")] == [1]
        assert TagCatalog(session, Actor.system()).tag("watch").color == "#c0392b"
        assert NotificationService(session, Actor.system()).template(
            "welcome_sms").body == "【信贷】{{ name }}，欢迎您。"
        schedule = get_schedule(session, "mini_credit.pool")
        assert (schedule.cron, schedule.enabled) == ("0 4 * * *", False)
        assert session.execute(select(db.app_install.c.version)).scalar_one() == "1.1.0"


# --- refusals ---------------------------------------------------------------------------------


def test_a_broken_manifest_is_refused_with_pointers_and_changes_nothing(
        platform: Platform, tmp_path: Path) -> None:
    broken = manifest()
    broken["rules"] = ["renamed", "missing_rule", "welcome_new"]
    broken["tag_group"] = []  # a typo of tag_groups
    broken["tag_groups"][0]["tags"][0]["color"] = "green"
    broken["notification_templates"][0].update(channel="fax", form="borrower",
                                               body="{{ name ")
    broken["seed"] = {"loan": [{"name": "x"}]}
    folder = write_app(tmp_path / "app", broken, {
        "forms": [BRANCH, BORROWER], "segments": [RATING_C_POOL, {**RATING_C_POOL,
                                                                   "key": "stray_pool"}],
        "rules": [WELCOME_RULE, {**WELCOME_RULE, "key": "other_key"}]})
    (folder / "rules" / "other_key.json").rename(folder / "rules" / "renamed.json")
    bad_rule = {**WELCOME_RULE, "trigger": {"type": "schedule", "cron": "every day"}}
    (folder / "rules" / "welcome_new.json").write_text(json.dumps(bad_rule), "utf-8")
    before = platform.counts()
    with platform.sessions.begin() as session, pytest.raises(MetadataError) as refused:
        try:
            install_app(session, folder)
        finally:  # in the same transaction, before any rollback: nothing was written
            assert table_counts(session) == before
    errors = refused.value.errors
    assert "nothing was installed" in refused.value.message
    assert errors["/rules/0"] == [
        "rules/renamed.json has the key 'other_key', expected 'renamed': set its \"key\" to "
        "'renamed', or rename the file and the entry to 'other_key'"]
    assert errors["/rules/1"] == [
        "rules/missing_rule.json does not exist: add the rule document there, or remove "
        "'missing_rule' from rules"]
    assert any(p.startswith("rules/welcome_new.json#/trigger") for p in errors)
    assert errors["/segments"] == [
        "segments/stray_pool.json is not listed: add 'stray_pool' to segments in app.json, "
        "or delete the file"]
    assert errors["/tag_group"][0].startswith("unknown key: remove it or check its spelling")
    assert errors["/tag_groups/0/tags/0/color"] == ["use a colour like '#1f8a4c'"]
    assert errors["/notification_templates/0/channel"] == [
        "use one of sms, email, in_app, wecom, dingtalk"]
    assert "form_key" in errors["/notification_templates/0/form"][0]
    assert "template error on line 1" in errors["/notification_templates/0/body"][0]
    assert errors["/seed/loan"] == ["list the form in forms, or remove its seed"]
    assert platform.counts() == before


def test_a_rule_its_publisher_refuses_fails_the_whole_install(platform: Platform,
                                                             tmp_path: Path) -> None:
    unknown_tag = {**WELCOME_RULE, "actions": [{"type": "add_tag", "tag": "no_such_tag"}]}
    folder = write_app(tmp_path / "app", docs={
        "forms": [BRANCH, BORROWER], "segments": [RATING_C_POOL], "rules": [unknown_tag]})
    before = platform.counts()
    with pytest.raises(MetadataError) as refused, platform.sessions.begin() as session:
        install_app(session, folder)
    assert refused.value.message.startswith("rules/welcome_new.json: ")
    (pointer,) = refused.value.errors
    assert pointer == "rules/welcome_new.json#/actions/0/tag"
    assert "no tag 'no_such_tag'" in refused.value.errors[pointer][0]
    assert platform.counts() == before  # the forms, tags and segment went with the rollback


# --- export -----------------------------------------------------------------------------------


def test_export_then_install_into_a_fresh_database_round_trips(
        platform: Platform, fresh: Platform, tmp_path: Path) -> None:
    platform.install(write_app(tmp_path / "app"))
    with platform.sessions.begin() as session:  # an admin's changes travel with the export
        TagCatalog(session, Actor.system()).save_tag("early_repayer", "risk_flags",
                                                     label("提前还款", "Early repayer"))
        save_schedule(session, "mini_credit.pool", "0 4 * * *",
                      "lendbase.segments.jobs.recompute_job", {"segment": "rating_c_pool"},
                      timezone="Asia/Shanghai", enabled=False, now=NOW)
        written = export_app(session, "mini_credit", tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "app.json", "forms/borrower.json", "forms/branch.json", "rules/welcome_new.json",
        "segments/rating_c_pool.json"]
    exported = json.loads((out / "app.json").read_text("utf-8"))
    original = manifest()
    for name in ("description", "forms", "departments", "seed", "notification_templates",
                 "segments", "rules"):
        assert exported[name] == original[name], name
    assert exported["schedules"] == [{**original["schedules"][0], "cron": "0 4 * * *",
                                      "enabled": False}]
    (group,) = exported["tag_groups"]
    assert [t["key"] for t in group["tags"]] == ["early_repayer", "new_borrower", "watch"]
    assert json.loads((out / "rules" / "welcome_new.json").read_text("utf-8")) == WELCOME_RULE
    # over the database it came from: nothing is created, everything is kept
    same, lines = platform.install(out)
    assert (same.published, same.installed, lines) == ([], [], [])
    assert len(same.kept) == 8 and "tags/early_repayer" in same.kept
    # into an empty database: everything is created as it was exported
    report, _ = fresh.install(out)
    assert report.published == ["branch", "borrower"] and report.kept == []
    assert "rules/welcome_new" in report.installed and "tags/early_repayer" in report.installed
    with fresh.sessions.begin() as session:
        assert get_schedule(session, "mini_credit.pool").enabled is False
        again = export_app(session, "mini_credit", tmp_path / "again")
    assert json.loads(again[0].read_text("utf-8")) == exported
    borrower = fresh.create("borrower", {"name": "王五", "mobile": "13700137000"})
    fresh.jobs.run_until_idle()
    assert fresh.tags_of("borrower", borrower) == {"new_borrower"}
