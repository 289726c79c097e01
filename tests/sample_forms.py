"""Small form documents used across tests."""

from __future__ import annotations

from typing import Any


def label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def person_form(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "key": "person",
        "label": label("客户", "Person"),
        "title_field": "name",
        "fields": [
            {"key": "person_no", "type": "auto_number", "label": label("编号", "No."),
             "format": "P-{YYYY}-{SEQ:4}"},
            {"key": "name", "type": "text", "label": label("姓名", "Name"), "required": True,
             "max_length": 20, "searchable": True},
            {"key": "kind", "type": "select", "label": label("类型", "Kind"), "required": True,
             "options": [{"value": "individual", "label": label("个人", "Individual")},
                         {"value": "enterprise", "label": label("企业", "Enterprise")}]},
            {"key": "id_number", "type": "id_number", "label": label("身份证", "ID number"),
             "sensitive": True, "unique": True, "required": True,
             "visible_when": {"field": "kind", "op": "=", "value": "individual"}},
            {"key": "mobile", "type": "phone", "label": label("手机", "Mobile"),
             "sensitive": True, "indexed": True},
            {"key": "income", "type": "money", "label": label("月收入", "Income"), "min": 0,
             "indexed": True},
            {"key": "tags", "type": "multiselect", "label": label("标签", "Tags"),
             "options": [{"value": "vip", "label": label("贵宾", "VIP")},
                         {"value": "new", "label": label("新客", "New")}]},
            {"key": "contacts", "type": "subtable", "label": label("联系人", "Contacts"),
             "fields": [
                 {"key": "name", "type": "text", "label": label("姓名", "Name"),
                  "required": True},
                 {"key": "phone", "type": "phone", "label": label("电话", "Phone"),
                  "sensitive": True}]},
        ],
        "permissions": {
            "manager": {"actions": ["create", "read", "update"], "scope": "own"},
            "auditor": {"actions": ["read"], "scope": "all", "unmask": True,
                        "hidden_fields": ["income"]},
        },
    }
    doc.update(overrides)
    return doc


def loan_form() -> dict[str, Any]:
    return {
        "key": "loan",
        "label": label("贷款", "Loan"),
        "fields": [
            {"key": "person", "type": "reference", "label": label("客户", "Person"),
             "target": "person", "required": True},
            {"key": "amount", "type": "money", "label": label("金额", "Amount"),
             "required": True},
            {"key": "due_on", "type": "date", "label": label("到期日", "Due on")},
        ],
    }
