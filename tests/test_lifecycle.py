"""Lifecycle stages: the document's checks by JSON pointer, moves refused with the allowed ones
named, the stage history with durations (injected clock), one ``stage.changed`` event per move,
SOP tasks once per entry however often the event is delivered, and the funnel figures on
crafted data. SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from lendbase import db
from lendbase.auth.users import ensure_role, load_actor, set_roles
from lendbase.errors import MetadataError, ValidationFailed
from lendbase.events import EventType, deliver, load_event
from lendbase.forms.lifecycle import stage_refusal
from lendbase.forms.migration.plan import plan_migration
from lendbase.forms.model import check_form, load_form
from lendbase.forms.publish import load_compiled_schema, publish_form
from lendbase.jobs import JobRuntime
from lendbase.meta.store import MetadataStore
from lendbase.records import lifecycle
from lendbase.records import lifecycle_stats as stats
from lendbase.records.permissions import Actor, access_for, scope_clause
from lendbase.records.service import RecordService
from lendbase.security import FieldCipher, generate_key_string
from tests.sample_forms import label

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
STAGES = [("lead", "线索", "Lead"), ("intent", "意向", "Intent"), ("review", "审批中", "Review"),
          ("won", "已成交", "Won"), ("lost", "已流失", "Lost")]


def deal_form() -> dict[str, Any]:
    """A deal moves lead -> intent -> review -> won, may go back a step, and may be lost from
    lead or intent; won and lost are final. SOP tasks on lead (two), review and won."""
    manager = {"rule": "field", "field": "account_manager"}
    return {
        "key": "deal",
        "label": label("商机", "Deal"),
        "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": label("名称", "Name"), "required": True},
            {"key": "account_manager", "type": "user", "label": label("客户经理", "Manager")},
            {"key": "stage", "type": "select", "label": label("阶段", "Stage"),
             "options": [{"value": k, "label": label(zh, en)} for k, zh, en in STAGES]},
            {"key": "amount", "type": "money", "label": label("金额", "Amount")},
        ],
        "permissions": {
            "manager": {"actions": ["create", "read", "update"], "scope": "own"},
            "viewer": {"actions": ["read"], "scope": "all"},
        },
        "lifecycle": {
            "field": "stage",
            "initial": "lead",
            "terminal": ["won", "lost"],
            "stages": [
                {"key": "lead", "target_days": 2, "sop": [
                    {"title": label("首次联系客户", "First call"), "priority": "high",
                     "due_in_days": 1, "assignee": manager},
                    {"title": label("录入需求", "Record the need"), "due_in_days": 3,
                     "assignee": {"rule": "round_robin", "role": "viewer"}},
                ]},
                {"key": "intent", "target_days": 5},
                {"key": "review", "target_days": 3, "sop": [
                    {"title": label("跟进审批", "Follow the review"), "due_in_days": 2,
                     "assignee": manager,
                     "description": label("审批需要时补充材料", "Supply documents")}]},
                {"key": "won", "sop": [{"title": label("放款回访", "Welcome call"),
                                        "assignee": manager}]},
                {"key": "lost"},
            ],
            "transitions": [
                {"from": "lead", "to": "intent"}, {"from": "lead", "to": "lost"},
                {"from": "intent", "to": "lead"}, {"from": "intent", "to": "review"},
                {"from": "intent", "to": "lost"}, {"from": "review", "to": "intent"},
                {"from": "review", "to": "won"},
            ],
        },
    }


# --- the document -----------------------------------------------------------------------------


def _errors(doc: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(MetadataError) as caught:
        check_form(doc)
    return caught.value.errors


def test_the_lifecycle_loads_with_its_moves_in_stage_order() -> None:
    lc = check_form(deal_form()).lifecycle
    assert lc is not None and lc.field == "stage" and lc.initial == "lead"
    assert lc.keys == ("lead", "intent", "review", "won", "lost")
    assert lc.allowed_next("intent") == ("lead", "review", "lost")
    assert lc.terminal == {"won", "lost"}
    lead = lc.stage("lead")
    assert lead is not None and lead.target_days == 2 and len(lead.sop) == 2
    assert lead.sop[0].kind == "sop" and lead.sop[1].priority == "normal"
    assert check_form({k: v for k, v in deal_form().items() if k != "lifecycle"}
                      ).lifecycle is None


def test_semantic_errors_point_at_what_is_wrong() -> None:
    doc = deal_form()
    lc = doc["lifecycle"]
    lc["stages"][4]["key"] = "gone"  # no such option; and option "lost" is no stage now
    lc["stages"].append({"key": "lead"})  # listed twice
    lc["initial"] = "start"
    lc["terminal"] = ["won", "nowhere"]
    lc["transitions"] += [{"from": "won", "to": "lead"},  # out of a final stage
                          {"from": "lead", "to": "limbo"}, {"from": "review", "to": "review"},
                          {"from": "lead", "to": "intent"}]
    lc["stages"][0]["sop"][0]["assignee"] = {"rule": "field", "field": "name"}
    lc["stages"][2]["sop"][0]["assignee"] = [{"rule": "round_robin"}, {"rule": "boss"}]
    lc["stages"][3]["target_days"] = 4  # a final stage has no target
    errors = _errors(doc)
    assert "'gone' is not an option of 'stage'" in errors["/lifecycle/stages/4/key"][0]
    assert "listed twice" in errors["/lifecycle/stages/5/key"][0]
    assert "'lost'" in errors["/lifecycle/stages"][0]
    assert "'start' is not a stage" in errors["/lifecycle/initial"][0]
    assert "'nowhere' is not a stage" in errors["/lifecycle/terminal/1"][0]
    assert "terminal stage: nothing moves out" in errors["/lifecycle/transitions/7/from"][0]
    assert "'limbo' is not a stage" in errors["/lifecycle/transitions/8/to"][0]
    assert "to itself" in errors["/lifecycle/transitions/9"][0]
    assert "listed twice" in errors["/lifecycle/transitions/10"][0]
    assert "'name' is not a user field" in errors["/lifecycle/stages/0/sop/0/assignee"][0]
    assert "'round_robin' needs the role" in errors["/lifecycle/stages/2/sop/0/assignee/0"][0]
    assert "unknown assignee rule 'boss'" in errors["/lifecycle/stages/2/sop/0/assignee/1"][0]
    assert "no target" in errors["/lifecycle/stages/3/target_days"][0]

    not_select = deal_form()
    not_select["lifecycle"]["field"] = "amount"
    assert "is a money field" in _errors(not_select)["/lifecycle/field"][0]
    missing = deal_form()
    missing["lifecycle"]["field"] = "phase"
    assert "select fields: stage" in _errors(missing)["/lifecycle/field"][0]
    schema_level = deal_form()
    schema_level["lifecycle"]["stages"][0]["target_days"] = 0
    del schema_level["lifecycle"]["stages"][1]["key"]
    errors = _errors(schema_level)
    assert "/lifecycle/stages/0/target_days" in errors
    assert errors["/lifecycle/stages/1"] == ["'key' is required: add it"]


def test_a_lifecycle_change_is_metadata_only_in_the_migration_plan() -> None:
    old = load_form(deal_form())
    changed = deal_form()
    changed["lifecycle"]["transitions"].append({"from": "lead", "to": "review"})
    changed["lifecycle"]["stages"][1]["target_days"] = 9
    plan = plan_migration(old, check_form(changed))
    assert not plan.changes_schema and not plan.needs_confirmation and not plan.refused


def test_refusals_name_the_allowed_stages_in_both_languages() -> None:
    form = check_form(deal_form())
    lc, f = form.lifecycle, form.field("stage")
    assert lc is not None
    assert stage_refusal(lc, f, "lead", "intent", creating=False) is None
    assert stage_refusal(lc, f, "intent", "intent", creating=False) is None
    assert stage_refusal(lc, f, "lead", "won", creating=False, lang="en") == (
        "cannot move from 'Lead' to 'Won'; allowed next stages: Intent, Lost")
    assert stage_refusal(lc, f, "lead", "won", creating=False, lang="zh") == (
        "不能从“线索”转到“已成交”；可转到：意向、已流失")
    assert stage_refusal(lc, f, "won", "review", creating=False, lang="zh") == (
        "“已成交”是终止阶段，不能再转出")
    assert "the stage cannot be emptied; move to one of: Lead, Review, Lost" == \
        stage_refusal(lc, f, "intent", None, creating=False)
    assert "starts at the stage 'Lead'" in stage_refusal(lc, f, None, "review", creating=True)
    assert stage_refusal(lc, f, None, "review", creating=True, importing=True) is None
    assert stage_refusal(lc, f, "retired", "won", creating=False) is None  # not a stage


# --- the database side ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def world(sessions: sessionmaker) -> dict[str, Any]:
    """The deal form published; am1 and am2 (managers, own deals), v1 and v2 (viewers: the
    round-robin pool)."""
    with sessions.begin() as session:
        for role in ("manager", "viewer"):
            ensure_role(session, role)
        ids = {}
        for name, role in (("am1", "manager"), ("am2", "manager"), ("v1", "viewer"),
                           ("v2", "viewer")):
            ids[name] = int(session.execute(insert(db.user).values(
                username=name, display_name=name.upper(), password_hash="!", is_active=True,
                failed_logins=0, created_at=T0).returning(db.user.c.id)).scalar_one())
            set_roles(session, ids[name], [role])
        MetadataStore(session, None).create("forms", deal_form())
        publish_form(session, None, "deal")
    return {"ids": ids, "cipher": FieldCipher.from_key_string(generate_key_string())}


def _service(session: Session, world: dict[str, Any], who: str | None, clock: Clock,
             lang: str = "en") -> RecordService:
    actor = Actor.system() if who is None else load_actor(session, world["ids"][who], lang)
    return RecordService(session, load_compiled_schema(session), actor, world["cipher"],
                         clock=clock)


def _history(session: Session, record_id: int) -> list[tuple[Any, ...]]:
    h = db.stage_history
    return [tuple(r) for r in session.execute(
        select(h.c.from_stage, h.c.to_stage, h.c.seconds_in_previous)
        .where(h.c.form_key == "deal", h.c.record_id == record_id).order_by(h.c.id))]


def test_moves_are_checked_and_each_entry_is_kept_with_its_duration(
        sessions: sessionmaker, world: dict[str, Any]) -> None:
    clock = Clock()
    am1 = world["ids"]["am1"]
    with sessions.begin() as session:
        svc = _service(session, world, "am1", clock)
        with pytest.raises(ValidationFailed) as refused:
            svc.create("deal", {"name": "跳级", "stage": "review"})
        assert refused.value.fields == {"stage": [
            "a new record starts at the stage 'Lead'; later stages are reached by moving "
            "through the lifecycle"]}
        deal = svc.create("deal", {"name": "华东贸易", "account_manager": am1})
        assert deal["stage"] == "lead"  # an empty stage starts at the initial one
    record_id = deal["id"]
    moves = [("intent", 3600 * 30), ("review", 3600 * 24 * 2), ("intent", 600),
             ("review", 59)]
    for stage, seconds in moves:
        clock.advance(seconds=seconds)
        with sessions.begin() as session:
            _service(session, world, "am1", clock).update("deal", record_id, {"stage": stage})
    with sessions.begin() as session:
        svc = _service(session, world, "am1", clock, lang="zh")
        with pytest.raises(ValidationFailed) as refused:
            svc.update("deal", record_id, {"stage": "lost", "amount": "100"})
        assert refused.value.fields == {
            "stage": ["不能从“审批中”转到“已流失”；可转到：意向、已成交"]}
        svc.update("deal", record_id, {"amount": "100"})  # no stage change: no entry
        clock.advance(days=1)
        svc.update("deal", record_id, {"stage": "won"})
        with pytest.raises(ValidationFailed) as refused:
            svc.update("deal", record_id, {"stage": "review"})
        assert refused.value.fields == {"stage": ["“已成交”是终止阶段，不能再转出"]}
        assert _history(session, record_id) == [
            (None, "lead", None), ("lead", "intent", 3600 * 30),
            ("intent", "review", 3600 * 48), ("review", "intent", 600),
            ("intent", "review", 59), ("review", "won", 86400)]
        entries = lifecycle.stage_history(session, "deal", record_id)
        assert [e.target for e in entries][:2] == ["won", "review"]  # newest first
        assert entries[0].actor == "AM1" and entries[0].at == clock.now
        # the system imports a record in mid-life: allowed, and marked as such
        imported = _service(session, world, None, clock).create(
            "deal", {"name": "存量客户", "stage": "review", "account_manager": am1})
        assert _history(session, imported["id"]) == [(None, "review", None)]


def test_one_event_per_move_and_sop_tasks_once_per_entry(
        engine: Engine, sessions: sessionmaker, world: dict[str, Any]) -> None:
    clock = Clock()
    runtime = JobRuntime(sessions, clock=clock)
    lifecycle.subscribe(runtime.subscribers)
    runtime.install()
    am1, viewers = world["ids"]["am1"], {world["ids"]["v1"], world["ids"]["v2"]}
    try:
        with sessions.begin() as session:
            deal = _service(session, world, "am1", clock).create(
                "deal", {"name": "苏州精密", "account_manager": am1})
        record_id = deal["id"]
        for stage in ("intent", "lead", "intent"):  # back to lead: its SOP again
            clock.advance(hours=5)
            with sessions.begin() as session:
                _service(session, world, "am1", clock).update("deal", record_id,
                                                              {"stage": stage})
        runtime.run_until_idle()
        with sessions() as session:
            o = db.outbox
            events = list(session.execute(
                select(o.c.id, o.c.data).where(o.c.type == EventType.STAGE_CHANGED.value)
                .order_by(o.c.id)))
            assert [(e.data["payload"]["from"], e.data["payload"]["to"]) for e in events] == [
                (None, "lead"), ("lead", "intent"), ("intent", "lead"), ("lead", "intent")]
            first = load_event(session, events[0].id)
            assert first is not None and first.changed == ("stage",)
            assert first.before == {"stage": None} and first.after == {"stage": "lead"}
            t = db.task
            rows = list(session.execute(select(t).where(t.c.form_key == "deal")
                                        .order_by(t.c.id)))
        history_ids = [e.data["payload"]["history_id"] for e in events]
        # lead entered twice: two tasks each time; intent has no SOP
        assert [r.cause_key for r in rows] == [
            f"sop:deal:{record_id}:lead:{history_ids[0]}:1",
            f"sop:deal:{record_id}:lead:{history_ids[0]}:2",
            f"sop:deal:{record_id}:lead:{history_ids[2]}:1",
            f"sop:deal:{record_id}:lead:{history_ids[2]}:2"]
        assert rows[0].title == "首次联系客户" and rows[0].kind == "sop"
        assert rows[0].priority == "high" and rows[0].assignee_id == am1
        assert rows[0].created_by_rule == "lifecycle:deal"
        assert rows[0].payload["sop"]["title"] == {"zh": "首次联系客户", "en": "First call"}
        assert _utc(rows[0].due_at) == T0 + timedelta(days=1)  # from the entry, not delivery
        assert _utc(rows[2].due_at) == T0 + timedelta(hours=10, days=1)
        assert {rows[1].assignee_id, rows[3].assignee_id} == viewers  # in turn

        # delivered again (a retry, a second worker): nothing new
        for event_id in (e.id for e in events):
            report = deliver(sessions, event_id, [lifecycle.SOP_HANDLER], clock)
            assert report.skipped == [lifecycle.SOP_HANDLER]
        with sessions.begin() as session:  # and were its handled row lost: the cause keys
            event = load_event(session, events[2].id)
            assert event is not None
            again = lifecycle.sop_tasks_for(session, event, load_compiled_schema(session))
            assert [created for _task, created in again] == [False, False]
        with sessions() as session:
            count = session.execute(select(func.count()).select_from(db.task)).scalar()
        assert count == 4
    finally:
        runtime.uninstall()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_an_imported_record_gets_no_sop_for_the_stage_it_arrives_in(
        sessions: sessionmaker, world: dict[str, Any]) -> None:
    clock = Clock()
    with sessions.begin() as session:
        deal = _service(session, world, None, clock).create(
            "deal", {"name": "存量", "stage": "review", "account_manager": world["ids"]["am1"]})
        event_id = session.execute(select(db.outbox.c.id).where(
            db.outbox.c.type == EventType.STAGE_CHANGED.value)).scalar_one()
        event = load_event(session, event_id)
        assert event is not None and event.payload["imported"] is True
        assert lifecycle.sop_tasks_for(session, event, load_compiled_schema(session)) == []
        clock.advance(days=1)
        _service(session, world, None, clock).update("deal", deal["id"], {"stage": "won"})
        won = session.execute(select(db.outbox.c.id).where(
            db.outbox.c.type == EventType.STAGE_CHANGED.value).order_by(
            db.outbox.c.id.desc())).scalars().first()
        event = load_event(session, won)
        assert event is not None
        made = lifecycle.sop_tasks_for(session, event, load_compiled_schema(session))
        assert [(task.title, created) for task, created in made] == [("放款回访", True)]
        assert made[0][0].due_at is None


# --- funnel figures -------------------------------------------------------------------------------


def test_funnel_figures_on_crafted_history(sessions: sessionmaker,
                                           world: dict[str, Any]) -> None:
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    am1, am2 = world["ids"]["am1"], world["ids"]["am2"]
    with sessions.begin() as session:
        cf = load_compiled_schema(session)["deal"]
        t = cf.table

        def deal(name: str, stage: str | None, owner: int, created: datetime) -> int:
            return int(session.execute(insert(t).values(
                name=name, stage=stage, owner_id=owner, created_at=created,
                updated_at=created, version=1).returning(t.c.id)).scalar_one())

        day = timedelta(days=1)
        a = deal("a", "intent", am1, now - 20 * day)
        b = deal("b", "intent", am1, now - 20 * day)
        c = deal("c", "review", am2, now - 20 * day)
        d = deal("d", "lead", am2, now - 10 * day)  # no history: counts from creation
        e = deal("e", "lead", am1, now - 1 * day)
        deal("f", "won", am1, now - 30 * day)
        deal("g", None, am1, now)

        def entry(record: int, source: str | None, target: str, at: datetime,
                  seconds: int | None) -> None:
            session.execute(insert(db.stage_history).values(
                form_key="deal", record_id=record, from_stage=source, to_stage=target, at=at,
                actor_id=am1, seconds_in_previous=seconds))

        entry(a, None, "lead", now - 20 * day, None)
        entry(a, "lead", "intent", now - 19 * day, 86400)  # before the period
        entry(b, None, "lead", now - 20 * day, None)
        entry(b, "lead", "intent", now - 9 * day, 11 * 86400)
        entry(c, "lead", "intent", now - 8 * day, 2 * 86400)
        entry(c, "intent", "review", now - 4 * day, 4 * 86400)  # review target 3: overdue
        entry(e, None, "lead", now - 1 * day, None)
        entry(a, "lead", "intent", now - 2 * day, 5 * 86400)  # an intent re-entry (crafted)

    since, until = now - 14 * day, now
    with sessions() as session:
        assert stats.stage_counts(session, cf) == {"intent": 2, "review": 1, "lead": 2,
                                                   "won": 1, None: 1}
        got = {(x.source, x.target): x.count for x in stats.conversions(session, cf, since,
                                                                         until)}
        assert got == {("lead", "intent"): 3, ("intent", "review"): 1, (None, "lead"): 1}
        times = stats.time_in_stage(session, cf, since, until)
        # lead left three times in the period: 11, 2 and 5 days -> median 5, mean 6
        assert (times["lead"].count, times["lead"].median_days, times["lead"].avg_days) == (
            3, 5.0, 6.0)
        assert (times["intent"].count, times["intent"].median_days) == (1, 4.0)
        everything = stats.time_in_stage(session, cf)  # 1, 2, 5, 11 days: median 3.5
        assert (everything["lead"].count, everything["lead"].median_days) == (4, 3.5)
        overdue = stats.overdue_in_stage(session, cf, now)
        # intent target 5: b entered 9 days ago (a re-entered 2 days ago: not over);
        # review target 3: c 4 days; lead target 2: d created 10 days ago, e 1 day: not over
        assert [(o.record_id, o.stage, o.days_in_stage, o.target_days) for o in overdue] == [
            (d, "lead", 10.0, 2), (b, "intent", 9.0, 5), (c, "review", 4.0, 3)]
        assert stats.overdue_counts(session, cf, now) == {"lead": 1, "intent": 1,
                                                          "review": 1}
        # a manager's row scope: only their own deals
        actor = load_actor(session, am2, "en")
        scope = scope_clause(actor, access_for(actor, cf.form), t)
        assert stats.stage_counts(session, cf, scope) == {"review": 1, "lead": 1}
        assert stats.overdue_counts(session, cf, now, scope) == {"lead": 1, "review": 1}
        assert {(x.source, x.target): x.count for x in stats.conversions(
            session, cf, since, until, scope)} == {("lead", "intent"): 1,
                                                   ("intent", "review"): 1}


def test_a_form_without_lifecycle_is_untouched(sessions: sessionmaker,
                                               world: dict[str, Any]) -> None:
    doc = copy.deepcopy(deal_form())
    del doc["lifecycle"]
    doc["key"] = "plain"
    with sessions.begin() as session:
        MetadataStore(session, None).create("forms", doc)
        publish_form(session, None, "plain")
    with sessions.begin() as session:
        svc = _service(session, world, "am1", Clock())
        record = svc.create("plain", {"name": "x", "stage": "won"})
        svc.update("plain", record["id"], {"stage": "lead"})
        assert session.execute(select(func.count()).select_from(db.stage_history)).scalar() == 0
