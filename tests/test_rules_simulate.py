"""Simulation before publishing: a draft rule's simulation matches the later real run exactly
and writes nothing; as of a past day, relative dates answer for that day and later records are
left out; the API (admins only, one error shape, pointers) and the publish dry run."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import sessionmaker

from lendbase import db
from lendbase.app import create_app
from lendbase.auth.users import create_user, ensure_role
from lendbase.config import load_settings
from lendbase.errors import MetadataError, ValidationFailed
from lendbase.jobs import EXTENSION, JobRuntime
from lendbase.meta.store import MetadataStore
from lendbase.rules import run_rule, simulate_rule
from tests.test_rule_actions import T0, Clock, World, make_world, table_counts
from tests.test_rules_engine import ACTIONS, rule

PASSWORD = "secret-pass-1"


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine)


def simulate(world: World, doc: dict[str, Any], as_of: Any = None) -> Any:
    with world.sessions() as session:
        return simulate_rule(session, doc, as_of=as_of, schema=world.schema(session),
                             env=world.runtime.env(), clock=world.clock)


def test_the_simulation_matches_the_real_run_and_writes_nothing(world: World) -> None:
    ids = world.add_loans(40)
    world.add_loans(10, start=100, status="overdue")
    with world.sessions.begin() as session:  # some already have what the rule would give
        t = world.schema(session)["loan"].table
        session.execute(update(t).where(t.c.id.in_(ids[30:35])).values(watched=True))
    doc = rule("big", {"type": "schedule", "cron": "0 9 * * *"},
               [*ACTIONS, {"type": "set_field", "field": "watched", "value": True},
                {"type": "notify", "template": "due_reminder", "recipient_field": "mobile"}],
               condition={"or": [{"field": "amount", "op": ">", "value": 30_000},
                                 {"field": "status", "op": "=", "value": "overdue"}]},
               once="month")
    before = table_counts(world.engine)
    report = simulate(world, doc)
    assert table_counts(world.engine) == before  # nothing written, anywhere
    assert report.matched == 20 and [s.id for s in report.sample][:2] == ids[30:32]
    predicted = [a.affected for a in report.actions.actions]
    assert predicted == [20, 20, 20, 15, 20]
    assert report.actions.actions[3].sample[0].id == ids[35]
    assert "when a record" not in " ".join(report.note_texts("en"))  # a scheduled rule
    world.publish_rule(doc)
    with world.sessions.begin() as session:
        done = run_rule(session, "big")
    assert [a["affected"] for a in done.actions] == predicted
    assert done.matched == report.matched
    # simulated again after the run: the same cause, nothing left to do
    again = simulate(world, doc)
    assert [a.affected for a in again.actions.actions] == [0, 0, 0, 0, 0]


def test_as_of_a_past_day_evaluates_relative_dates_on_that_day(world: World) -> None:
    world.clock.now = datetime(2026, 9, 29, 1, 0, tzinfo=UTC)
    world.add_loans(3, due_on=date(2026, 10, 20))
    world.add_loans(1, start=10, due_on=date(2026, 11, 25))
    world.clock.now = T0  # 28 November
    world.add_loans(1, start=11, due_on=date(2026, 11, 25))
    doc = rule("recently_due", {"type": "record_updated"},
               [{"type": "raise_alert", "title": "刚到期"}],
               condition={"field": "due_on", "op": "in_last", "value": [7, "day"]})
    now = simulate(world, doc)
    assert now.matched == 2 and now.as_of is None
    past = simulate(world, doc, as_of="2026-10-24")
    assert past.matched == 3 and [a.affected for a in past.actions.actions] == [3]
    assert past.now.isoformat() == "2026-10-24T23:59:59+08:00"
    texts = past.note_texts("en")
    assert any("Field values are today's" in t and "2026-10-24" in t for t in texts)
    assert any("when a record is updated" in t for t in texts)
    assert any("字段取值是今天的值" in t for t in past.note_texts("zh"))
    # records created after the as-of day are left out (贷款11 was created on 28 November)
    assert simulate(world, doc, as_of="2026-11-27").matched == 1
    with pytest.raises(ValidationFailed) as refused:
        simulate(world, doc, as_of="24/10/2026")
    assert "is not a date; write it as 2026-10-31" in refused.value.fields["as_of"][0]


def test_a_draft_that_does_not_fit_the_forms_is_refused_by_pointer(world: World) -> None:
    doc = rule("bad", {"type": "field_changed", "fields": ["status", "nope"]},
               [{"type": "add_tag", "tag": "ghost"}],
               condition={"and": [{"field": "status", "op": "=", "value": "overdue"},
                                  {"or": [{"field": "amount", "op": ">", "value": 1},
                                          {"field": "colour", "op": "=", "value": "red"}]}]})
    with pytest.raises(MetadataError) as refused:
        simulate(world, doc)
    errors = refused.value.errors
    assert set(errors) == {"/trigger/fields/1", "/condition/and/1/or/1", "/actions/0/tag"}
    assert "unknown field 'colour'" in errors["/condition/and/1/or/1"][0]
    with pytest.raises(MetadataError) as refused:
        simulate(world, {**doc, "form": "nowhere"})
    assert set(refused.value.errors) == {"/form"}


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path, engine: Engine) -> Any:
    """The app on the test database (both dialects), with an admin and a clerk."""
    app = create_app(load_settings({"LENDBASE_VAR_DIR": str(tmp_path / "var")}), TESTING=True)
    state = app.extensions["lendbase"]
    state.engine.dispose()
    state = dataclasses.replace(state, engine=engine,
                                sessions=sessionmaker(engine, expire_on_commit=False))
    app.extensions["lendbase"] = state
    clock = Clock()
    app.extensions[EXTENSION] = JobRuntime(state.sessions, clock=clock)
    world = make_world(engine, clock)  # binds the rules runtime of the test database
    with state.sessions.begin() as session:
        ensure_role(session, "clerk", {"zh": "职员", "en": "Clerk"})
        create_user(session, "chief", PASSWORD, ["admin"])
        create_user(session, "clerk", PASSWORD, ["clerk"])
    world.add_loans(12)
    client = app.test_client()

    def token(user: str) -> dict[str, str]:
        answer = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
        return {"Authorization": f"Bearer {answer.json['token']}"}

    return client, token("chief"), token("clerk"), engine


def test_the_api_simulates_drafts_publishes_and_reads_the_run_log(api: Any) -> None:
    client, admin, clerk, engine = api
    doc = rule("api_rule", {"type": "schedule", "cron": "0 8 * * 1-5"},
               [{"type": "create_task", "title": "复核大额"}],
               condition={"field": "amount", "op": ">=", "value": 10_000})
    assert client.post("/api/v1/meta/rules", json=doc, headers=admin).status_code == 201
    before = table_counts(engine)
    answer = client.post("/api/v1/rules/api_rule/simulate", json={"lang": "zh"}, headers=admin)
    assert answer.status_code == 200, answer.json
    assert answer.json["matched"] == 3 and answer.json["actions"][0]["affected"] == 3
    assert answer.json["sample"][0]["title"] == "贷款10"
    unsaved = {**doc, "condition": {"field": "amount", "op": ">=", "value": 12_000}}
    answer = client.post("/api/v1/rules/api_rule/simulate", json={"doc": unsaved},
                         headers=admin)
    assert answer.json["matched"] == 1
    dry = client.post("/api/v1/meta/rules/api_rule/publish?dry_run=1", headers=admin)
    assert dry.status_code == 200 and dry.json["simulation"]["matched"] == 3
    assert dry.json["version"] is None and dry.json["dry_run"]
    assert table_counts(engine) == before
    refused = client.post("/api/v1/rules/api_rule/simulate", headers=admin, json={
        "doc": {**doc, "condition": {"field": "colour", "op": "=", "value": "red"}}})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "invalid_metadata"
    assert list(refused.json["error"]["fields"]) == ["/condition"]
    assert client.post("/api/v1/rules/api_rule/simulate", json={},
                       headers=clerk).status_code == 403
    assert client.get("/api/v1/rules/api_rule/runs", headers=clerk).status_code == 403
    published = client.post("/api/v1/meta/rules/api_rule/publish", headers=admin)
    assert published.status_code == 200, published.json
    assert published.json["version"] == 1 and published.json["schedule"]["cron"] == \
        "0 8 * * 1-5"
    with sessionmaker(engine).begin() as session:
        run_rule(session, "api_rule")
    runs = client.get("/api/v1/rules/api_rule/runs?limit=5", headers=admin)
    assert runs.status_code == 200
    assert [(r["trigger"], r["matched"]) for r in runs.json["items"]] == [("manual", 3)]
    bad = {**doc, "actions": [{"type": "start_flow", "flow": "approval"}]}
    saved = client.put("/api/v1/meta/rules/api_rule", json={"doc": bad, "lock_version": 1},
                       headers=admin)
    assert saved.status_code == 422
    assert saved.json["error"]["fields"]["/actions/0/type"][0].startswith("flows arrive")
    with sessionmaker(engine)() as session:
        assert MetadataStore(session, None).published("rules", "api_rule").version == 1
        assert session.execute(select(func.count()).select_from(db.task)).scalar_one() == 3
