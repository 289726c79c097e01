"""Rule documents: the meta-schema and the semantic checks report every problem by JSON
pointer; loading into dataclasses; cause keys per ``once`` policy; which events fire which
triggers (pure); publishing binds the rule to the published forms (pointers again)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import Engine

from lendbase.errors import MetadataError
from lendbase.events import Event, EventType
from lendbase.meta.store import MetadataStore
from lendbase.meta.validate import validate_document
from lendbase.rules import (
    ActionType,
    Once,
    TriggerType,
    check_rule,
    publish_rule,
    rule_cause,
    trigger_matches,
)
from lendbase.rules.model import FLOWS_LATER, cause_pattern, load_trigger, period_label
from tests.test_rule_actions import World, make_world

AT = datetime(2026, 11, 28, 17, 30, tzinfo=UTC)  # 01:30 on 29 November in Shanghai


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": "upsell_followup", "label": {"zh": "提额跟进", "en": "Upsell follow-up"},
        "form": "customer", "trigger": {"type": "schedule", "cron": "0 9 * * 1-5"},
        "condition": {"field": "rating", "op": "=", "value": "A"},
        "actions": [{"type": "create_task", "title": "回访", "due_in_days": 3,
                     "assignee": {"rule": "field", "field": "account_manager"}},
                    {"type": "add_tag", "tag": "upsell"}],
    }
    base.update(overrides)
    return base


def problems(document: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(MetadataError) as refused:
        validate_document("rules", document)
    return refused.value.errors


def test_a_valid_rule_loads_into_dataclasses() -> None:
    rule = check_rule(doc(once="month"))
    assert rule.trigger.type is TriggerType.SCHEDULE and rule.trigger.timezone == "Asia/Shanghai"
    assert [a.type for a in rule.actions] == [ActionType.CREATE_TASK, ActionType.ADD_TAG]
    assert rule.actions[0].due_in_days == 3  # type: ignore[attr-defined]
    assert rule.once is Once.MONTH and rule.enabled and rule.source == "rule:upsell_followup"
    assert check_rule(doc(condition={})).condition is None  # no condition: always


def test_schema_problems_are_reported_by_pointer_all_at_once() -> None:
    errors = problems(doc(
        key="Bad Key", form="", once="hourly",
        trigger={"type": "field_changed"},
        actions=[{"type": "add_tag"}, {"type": "create_task", "title": "x", "colour": "red"},
                 {"type": "webhook", "url": "ftp://x", "secret": "short"},
                 {"type": "explode"}]))
    assert set(errors) >= {"/key", "/form", "/once", "/trigger", "/actions/0",
                           "/actions/1", "/actions/2/url", "/actions/2/secret",
                           "/actions/3/type"}
    assert "'fields' is required" in " ".join(errors["/trigger"])
    assert "'colour'" in " ".join(errors["/actions/1"])


def test_semantic_problems_are_reported_by_pointer() -> None:
    errors = problems(doc(
        trigger={"type": "schedule", "cron": "every morning", "timezone": "Mars/Olympus"},
        actions=[{"type": "set_field", "field": "rating"},
                 {"type": "set_field", "field": "rating", "value": "B", "formula": "1"},
                 {"type": "create_task", "title": "x", "assignee": {"rule": "psychic"}},
                 {"type": "webhook", "url": "https:///nohost", "secret": "0123456789abcdef"},
                 {"type": "start_flow", "flow": "approval"}]))
    assert set(errors) == {"/trigger/cron", "/trigger/timezone", "/actions/0", "/actions/1",
                           "/actions/2/assignee", "/actions/3/url", "/actions/4/type"}
    assert "'0 9 * * 1-5'" in errors["/trigger/cron"][0]
    assert errors["/actions/4/type"] == [FLOWS_LATER]
    assert "not both and not neither" in errors["/actions/0"][0]
    stage = problems(doc(trigger={"type": "stage_changed", "field": "stage", "from": ["lead"],
                                  "to": ["lead"]}))
    assert set(stage) == {"/trigger/to"}


def test_cause_keys_follow_the_once_policy() -> None:
    def cause(once: str, **kw: Any) -> str:
        return rule_cause(check_rule(doc(once=once)), at=AT, **kw)

    assert cause("record") == "rule:upsell_followup"
    assert cause("day") == "rule:upsell_followup:2026-11-29"  # the Shanghai day
    assert cause("week") == "rule:upsell_followup:2026-W48"
    assert cause("month") == "rule:upsell_followup:2026-11"
    assert cause("every_time", event_id=42) == "rule:upsell_followup:e42"
    assert cause("every_time", run_token="t20261129T0100Z") == \
        "rule:upsell_followup:t20261129T0100Z"
    assert cause_pattern("rule:upsell_followup:2026-11", 1) == \
        "rule:upsell_followup:2026-11:{id}:1"
    assert period_label(Once.RECORD, AT) == ""


def event(kind: EventType, changed: tuple[str, ...] = (), before: dict[str, Any] | None = None,
          after: dict[str, Any] | None = None, **kw: Any) -> Event:
    return Event(kind, form="loan", record_id=7, changed=changed,
                 before=MappingProxyType(before or {}), after=MappingProxyType(after or {}),
                 **kw)


def test_which_events_fire_which_triggers() -> None:
    fields = load_trigger({"type": "field_changed", "fields": ["status", "dpd"]})
    assert trigger_matches(fields, event(EventType.RECORD_UPDATED, ("dpd",)))
    assert not trigger_matches(fields, event(EventType.RECORD_UPDATED, ("note",)))
    assert not trigger_matches(fields, event(EventType.RECORD_CREATED, ("status",)))
    stage = load_trigger({"type": "stage_changed", "field": "stage", "from": ["approved"],
                          "to": ["repaying"]})
    moved = event(EventType.RECORD_UPDATED, ("stage",), {"stage": "approved"},
                  {"stage": "repaying"})
    assert trigger_matches(stage, moved)
    assert not trigger_matches(stage, event(EventType.RECORD_UPDATED, ("stage",),
                                            {"stage": "lead"}, {"stage": "repaying"}))
    assert trigger_matches(stage, Event(EventType.STAGE_CHANGED, form="loan", record_id=7,
                                        payload=MappingProxyType({"field": "stage",
                                                                  "from": "approved",
                                                                  "to": "repaying"})))
    entered = load_trigger({"type": "stage_changed", "field": "stage", "to": ["lead"]})
    assert trigger_matches(entered, event(EventType.RECORD_CREATED, ("stage",), {},
                                          {"stage": "lead"}))
    external = load_trigger({"type": "external", "event": "bureau.report_ready"})
    assert trigger_matches(external, event(EventType.EXTERNAL, name="bureau.report_ready"))
    assert not trigger_matches(external, event(EventType.EXTERNAL, name="other"))
    created = load_trigger({"type": "record_created"})
    assert trigger_matches(created, event(EventType.RECORD_CREATED))
    assert not trigger_matches(created, event(EventType.RECORD_UPDATED, ("x",)))


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine)


def test_publishing_binds_the_rule_to_the_published_forms(world: World) -> None:
    bad = {"key": "watch", "label": {"zh": "监控", "en": "Watch"}, "form": "loan",
           "trigger": {"type": "stage_changed", "field": "amount", "to": ["gone"]},
           "condition": {"and": [{"field": "status", "op": "=", "value": "overdue"},
                                 {"field": "ghost", "op": "is_empty"}]},
           "actions": [{"type": "notify", "template": "nope", "recipient_field": "mobile"},
                       {"type": "set_field", "field": "score", "value": "many"}]}
    with world.sessions.begin() as session:
        MetadataStore(session, None).create("rules", bad)
    with world.sessions() as session, pytest.raises(MetadataError) as refused:
        publish_rule(session, None, "watch")
    errors = refused.value.errors
    assert set(errors) == {"/trigger/field", "/condition/and/1", "/actions/0/template",
                           "/actions/1/value"}
    assert "not a select field" in errors["/trigger/field"][0]
    assert "unknown field 'ghost'" in errors["/condition/and/1"][0]
    with world.sessions.begin() as session:
        store = MetadataStore(session, None)
        store.save_draft("rules", "watch", {**bad, "form": "elsewhere"})
    with world.sessions() as session, pytest.raises(MetadataError) as refused:
        publish_rule(session, None, "watch")
    assert list(refused.value.errors) == ["/form"]
    good = {**bad, "trigger": {"type": "record_updated"},
            "condition": {"field": "status", "op": "=", "value": "overdue"},
            "actions": [{"type": "raise_alert", "title": "逾期"}]}
    with world.sessions.begin() as session:
        MetadataStore(session, None).save_draft("rules", "watch", good)
        first = publish_rule(session, None, "watch")
        again = publish_rule(session, None, "watch")
    assert first.version is not None and first.version.version == 1
    assert again.unchanged and again.to_dict()["version"] == 1
    with world.sessions.begin() as session:
        MetadataStore(session, None).save_draft("rules", "watch", {**good, "actions": []})
    with world.sessions() as session, pytest.raises(MetadataError) as refused:
        publish_rule(session, None, "watch")
    assert list(refused.value.errors) == ["/actions"]
