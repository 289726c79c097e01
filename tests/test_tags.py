"""Tags on SQLite and PostgreSQL: the catalogue, adding and removing by hand and by rules with
history, exclusive groups, hand-tagging rights, record read checks (404), and bulk tagging of
thousands of records from a subquery in a handful of set-based statements."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lendbase import db
from lendbase.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lendbase.records.permissions import Actor
from lendbase.work import TagAction, TagCatalog, TagService, has_tag, tagged_ids
from tests.work_fixtures import NOW, add_clients, clock, counting_statements, make_org, make_schema


@pytest.fixture
def world(engine, session):
    schema = make_schema(engine)
    org = make_org(session)
    catalog = TagCatalog(session, org.actors["admin"], clock)
    catalog.save_group("rating", {"zh": "评级", "en": "Rating"}, exclusive=True)
    for key, color in (("rating_a", "#1f8a4c"), ("rating_b", "#1456c7"), ("rating_c", "#c0392b")):
        catalog.save_tag(key, "rating", {"zh": f"评级{key[-1].upper()}",
                                         "en": f"Rating {key[-1].upper()}"}, color=color)
    catalog.save_group("risk", {"zh": "风险标记", "en": "Risk flags"}, roles=["collector"])
    catalog.save_tag("lost_contact", "risk", {"zh": "失联", "en": "Lost contact"})
    catalog.save_tag("dispute", "risk", {"zh": "争议", "en": "Dispute"})
    catalog.save_group("behaviour", {"zh": "行为", "en": "Behaviour"}, manual=False)
    catalog.save_tag("early_repayer", "behaviour", {"zh": "提前还款", "en": "Early repayer"})
    mine = add_clients(session, schema, 3, owner=org.ids["am1"], manager=org.ids["am1"])
    session.flush()
    return schema, org, mine


def service(session, schema, actor: Actor) -> TagService:
    return TagService(session, actor, clock, schema=schema)


def history_rows(session, record_id: int) -> list[tuple[str, str, int | None, str | None]]:
    h = db.tag_history
    return [tuple(r) for r in session.execute(
        select(h.c.tag_key, h.c.action, h.c.actor_id, h.c.rule_key)
        .where(h.c.form_key == "client", h.c.record_id == record_id).order_by(h.c.id))]


def test_add_and_remove_are_idempotent_and_keep_history(session, world) -> None:
    schema, org, (rid, *_) = world
    svc = service(session, schema, org.actors["am1"])
    assert svc.add("client", rid, "rating_a", reason="首次评级") is True
    assert svc.add("client", rid, "rating_a") is False  # already there: no second row
    tags = svc.tags_of("client", rid)
    assert [(t.tag_key, t.added_by, t.reason, t.group_key) for t in tags] == [
        ("rating_a", org.ids["am1"], "首次评级", "rating")]
    assert tags[0].added_at == NOW and tags[0].label["en"] == "Rating A"
    assert svc.remove("client", rid, "rating_a", reason="复核") is True
    assert svc.remove("client", rid, "rating_a") is False
    assert svc.tags_of("client", rid) == []
    assert history_rows(session, rid) == [("rating_a", "added", org.ids["am1"], None),
                                          ("rating_a", "removed", org.ids["am1"], None)]
    changes = svc.history("client", rid)
    assert [c.action for c in changes] == [TagAction.REMOVED, TagAction.ADDED]
    assert changes[0].reason == "复核"


def test_exclusive_group_keeps_one_tag(session, world) -> None:
    schema, org, (rid, *_) = world
    system = TagService(session, Actor.system(), clock, schema=schema)
    system.add("client", rid, "rating_a", rule="rating_model")
    system.add("client", rid, "rating_b", rule="rating_model", reason="逾期")
    assert [t.tag_key for t in system.tags_of("client", rid)] == ["rating_b"]
    assert history_rows(session, rid) == [("rating_a", "added", None, "rating_model"),
                                          ("rating_a", "removed", None, "rating_model"),
                                          ("rating_b", "added", None, "rating_model")]
    assert system.set_exclusive("client", rid, "rating", "rating_c") is True
    assert system.set_exclusive("client", rid, "rating", "rating_c") is False
    assert [t.tag_key for t in system.tags_of("client", rid)] == ["rating_c"]
    assert system.set_exclusive("client", rid, "rating", None) is True
    assert system.tags_of("client", rid) == []
    with pytest.raises(ValidationFailed):
        system.set_exclusive("client", rid, "risk", "lost_contact")  # not exclusive
    # a non-exclusive group holds several tags at once
    system.add("client", rid, "lost_contact")
    system.add("client", rid, "dispute")
    assert {t.tag_key for t in system.tags_of("client", rid)} == {"lost_contact", "dispute"}


def test_hand_tagging_follows_the_group_rules(session, world) -> None:
    schema, org, (rid, *_) = world
    am1 = service(session, schema, org.actors["am1"])
    with pytest.raises(PermissionDenied, match="set by rules only"):
        am1.add("client", rid, "early_repayer")
    with pytest.raises(PermissionDenied, match="collector"):
        am1.add("client", rid, "lost_contact")
    collector = service(session, schema, org.actors["c1"])
    assert collector.add("client", rid, "lost_contact", reason="三次未接通")
    with pytest.raises(PermissionDenied):  # rule keys are for the system only
        am1.add("client", rid, "rating_a", rule="forged")
    with pytest.raises(NotFound):
        am1.add("client", rid, "no_such_tag")
    TagCatalog(session, org.actors["admin"], clock).save_tag(
        "rating_b", "rating", {"en": "Rating B"}, active=False)
    with pytest.raises(ValidationFailed) as info:
        am1.add("client", rid, "rating_b")
    assert "retired" in info.value.fields["tag"][0]


def test_records_out_of_reach_answer_not_found(session, world) -> None:
    schema, org, (rid, *_) = world
    for name in ("am2", "outsider"):  # am2: scope "own"; outsider: no read right at all
        svc = service(session, schema, org.actors[name])
        with pytest.raises(NotFound):
            svc.tags_of("client", rid)
        with pytest.raises(NotFound):
            svc.add("client", rid, "rating_a")
    with pytest.raises(NotFound):
        service(session, schema, org.actors["am1"]).tags_of("client", 999_999)
    with pytest.raises(NotFound):
        service(session, schema, org.actors["am1"]).tags_of("nope", rid)
    # a person without the published forms to check against is refused as well
    with pytest.raises(NotFound):
        TagService(session, org.actors["am1"], clock).tags_of("client", rid)
    assert service(session, schema, org.actors["viewer"]).tags_of("client", rid) == []


def test_bulk_tagging_is_set_based(engine, session, world) -> None:
    schema, org, _ = world
    table = schema["client"].table
    add_clients(session, schema, 5000, owner=org.ids["am1"], start=100)
    session.flush()
    rich = select(table.c.id).where(table.c.balance >= 300_000)  # 2,001 records
    expected = session.execute(select(func.count()).select_from(rich.subquery())).scalar_one()
    system = TagService(session, Actor.system(), clock, schema=schema)
    system.add("client", int(session.execute(rich.limit(1)).scalar_one()), "rating_b")
    with counting_statements(engine) as statements:
        added = system.bulk_add("client", "rating_a", rich, rule="upsell_pool",
                                reason="余额达标")
    assert added == expected
    assert len(statements) <= 6, statements
    tagged = select(func.count()).select_from(tagged_ids("client", "rating_a").subquery())
    assert session.execute(tagged).scalar_one() == expected
    # exclusive: the one record that had B lost it, with a history row
    h = db.tag_history
    assert session.execute(select(func.count()).where(
        h.c.tag_key == "rating_b", h.c.action == "removed")).scalar_one() == 1
    assert session.execute(select(func.count()).where(
        h.c.tag_key == "rating_a", h.c.action == "added", h.c.rule_key == "upsell_pool",
        h.c.reason == "余额达标")).scalar_one() == expected
    # again: nothing new, no history
    with counting_statements(engine) as statements:
        assert system.bulk_add("client", "rating_a", rich, rule="upsell_pool") == 0
    assert len(statements) <= 6
    assert session.execute(select(func.count()).select_from(h)).scalar_one() == expected + 2
    # has_tag works as a filter on the form's own table
    poor_tagged = session.execute(select(func.count()).select_from(table).where(
        has_tag("client", "rating_a", table.c.id), table.c.balance < 300_000)).scalar_one()
    assert poor_tagged == 0
    with counting_statements(engine) as statements:
        removed = system.bulk_remove("client", "rating_a",
                                     select(table.c.id).where(table.c.balance >= 400_000),
                                     rule="upsell_pool")
    assert len(statements) <= 4
    assert removed == session.execute(select(func.count()).where(
        table.c.balance >= 400_000)).scalar_one()
    assert session.execute(tagged).scalar_one() == expected - removed


def test_bulk_needs_the_system_and_one_column(session, world) -> None:
    schema, org, _ = world
    table = schema["client"].table
    with pytest.raises(PermissionDenied):
        service(session, schema, org.actors["am1"]).bulk_add(
            "client", "rating_a", select(table.c.id))
    with pytest.raises(ValidationFailed) as info:
        TagService(session, Actor.system(), clock).bulk_add(
            "client", "rating_a", select(table.c.id, table.c.name))
    assert "exactly one" in info.value.fields["ids"][0]


def test_catalogue_is_checked_and_guarded(session, world) -> None:
    schema, org, (rid, rid2, _) = world
    admin = TagCatalog(session, org.actors["admin"], clock)
    with pytest.raises(ValidationFailed) as info:
        admin.save_tag("Bad Key", "nope", {}, color="red")
    assert set(info.value.fields) == {"key", "label", "color", "group_key"}
    with pytest.raises(PermissionDenied):
        TagCatalog(session, org.actors["am1"], clock).save_group("x", {"en": "X"})
    system = TagService(session, Actor.system(), clock, schema=schema)
    system.add("client", rid, "lost_contact")
    system.add("client", rid, "dispute")
    with pytest.raises(Conflict, match="two tags"):
        admin.save_group("risk", {"en": "Risk"}, exclusive=True)
    with pytest.raises(Conflict, match="carry"):
        admin.delete_tag("dispute")
    with pytest.raises(Conflict, match="still has tags"):
        admin.delete_group("risk")
    admin.save_tag("unused", "risk", {"en": "Unused"})
    admin.delete_tag("unused")
    assert [t.key for t in admin.tags("risk")] == ["dispute", "lost_contact"]
    assert [g.key for g in admin.groups()] == ["behaviour", "rating", "risk"]
    entries = session.execute(select(db.change_log.c.subject)
                              .where(db.change_log.c.subject == "tag:unused")).all()
    assert len(entries) == 2  # saved, deleted
