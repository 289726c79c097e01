"""The metadata store: drafts with optimistic locking, immutable versions, diff, restore."""

from __future__ import annotations

import pytest

from lendbase.errors import Conflict, MetadataError, NotFound
from lendbase.meta.jsondiff import diff_documents
from lendbase.meta.store import MetadataStore, checksum_of
from tests.sample_forms import label, person_form


def test_draft_lifecycle_and_conflict(session) -> None:
    store = MetadataStore(session, None)
    draft = store.create("forms", person_form())
    assert draft.lock_version == 1
    with pytest.raises(Conflict):
        store.create("forms", person_form())
    doc = person_form()
    doc["label"] = label("个人客户", "Individual")
    saved = store.save_draft("forms", "person", doc, expected_lock_version=1)
    assert saved.lock_version == 2
    with pytest.raises(Conflict) as info:
        store.save_draft("forms", "person", person_form(), expected_lock_version=1)
    assert "reload it" in info.value.message
    bad = person_form()
    bad["fields"][1]["type"] = "nonsense"
    with pytest.raises(MetadataError) as error:
        store.save_draft("forms", "person", bad)
    assert "/fields/1/type" in error.value.errors
    with pytest.raises(NotFound):
        store.get_draft("forms", "nobody")
    with pytest.raises(NotFound):
        store.list_keys("widgets")


def test_versions_are_immutable_numbered_and_diffable(session) -> None:
    store = MetadataStore(session, 7)
    store.create("forms", person_form())
    first = store.record_version("forms", "person", person_form())
    generation = store.generation()
    doc = person_form()
    doc["fields"].insert(0, doc["fields"].pop(2))  # move 'kind' to the front
    doc["fields"].append({"key": "note", "type": "textarea", "label": label("备注", "Note")})
    store.save_draft("forms", "person", doc)
    second = store.record_version("forms", "person", doc, note="add note")
    assert (first.version, second.version) == (1, 2)
    assert store.generation() == generation + 1
    assert second.checksum == checksum_of(doc) != first.checksum
    assert [v.version for v in store.versions("forms", "person")] == [2, 1]
    changes = store.diff("forms", "person", 1, 2)
    ops = {(c["op"], c["path"]) for c in changes}
    assert ("add", "/fields[key=note]") in ops
    assert ("move", "/fields[key=kind]") in ops
    restored = store.restore("forms", "person", 1)
    assert restored.doc == person_form()
    assert store.diff("forms", "person", 1, None) == []  # draft now equals version 1


def test_diff_matches_options_by_value() -> None:
    old = {"options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}
    new = {"options": [{"value": "a", "label": "AA"}, {"value": "c", "label": "C"}]}
    changes = diff_documents(old, new)
    assert {"op": "remove", "path": "/options[value=b]", "old": {"value": "b", "label": "B"}} \
        in changes
    assert {"op": "change", "path": "/options[value=a]/label", "old": "A", "new": "AA"} in changes


def test_every_draft_change_is_logged_with_what_changed(session) -> None:
    store = MetadataStore(session, None)
    store.create("forms", person_form())
    doc = person_form()
    doc["label"] = label("个人客户", "Individual")
    store.save_draft("forms", "person", doc)
    store.record_version("forms", "person", doc)
    store.restore("forms", "person", 1)
    entries = store.log("forms", "person")
    assert [e["action"] for e in entries] == ["restore", "publish", "save", "create"]
    save = entries[2]["detail"]
    assert save["changes"] == [{"op": "change", "path": "/label/zh", "old": "客户",
                                "new": "个人客户"},
                               {"op": "change", "path": "/label/en", "old": "Person",
                                "new": "Individual"}]
    assert entries[1]["detail"]["version"] == 1
