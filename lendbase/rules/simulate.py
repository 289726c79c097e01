"""Simulation before publishing: run a draft rule against the current data, or as of a past
day, and see what would change, with counts and a sample, writing nothing.

What "as of a past day" means: the clock of the condition is that day (relative dates such as
"due in the last 30 days" and ``TODAY()`` are evaluated as of it) and records created after
it are left out. Field values are today's: records keep no point-in-time snapshot, and the
simulation does not rebuild past values from the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendbase.errors import ValidationFailed
from lendbase.forms.compile import CompiledSchema
from lendbase.forms.values import DEFAULT_TZ
from lendbase.rules.actions import (
    SAMPLE_SIZE,
    ActionEnv,
    ActionReport,
    SampleRecord,
    Target,
    apply_actions,
)
from lendbase.rules.bind import bind_rule
from lendbase.rules.model import ActionType, TriggerType, check_rule, rule_cause

#: The notes a simulation carries, by code, in both languages.
NOTES: dict[str, dict[str, str]] = {
    "as_of_values": {
        "zh": "按 {day} 评估：相对日期（如“最近30天”、TODAY()）以该日计算，之后新建的记录不计入；"
              "但字段取值是今天的值——记录不保存历史快照，本次模拟也没有用审计记录还原当日的值。",
        "en": "Evaluated as of {day}: relative dates (\"in the last 30 days\", TODAY()) count "
              "from that day and records created after it are left out. Field values are "
              "today's: records keep no point-in-time snapshot, and this simulation does not "
              "rebuild past values from the audit trail."},
    "event_trigger": {
        "zh": "该规则在记录{what}时运行；模拟显示的是：若现在每条符合条件的记录都触发一次，"
              "将会发生什么。",
        "en": "This rule runs when a record {what}; the simulation shows what would happen if "
              "every record that matches now triggered it once."},
    "notify_gates": {
        "zh": "通知是否会被拦截（如夜间免打扰）在发送时才判断。",
        "en": "Whether a notification is refused by a gate (quiet hours at night) is decided "
              "when it is sent."},
    "fields_last": {
        "zh": "字段修改在其他动作之后执行，因此其他动作看到的是修改前的记录。",
        "en": "Field changes run after the other actions, so those see the records as they "
              "matched."},
}
_WHAT = {
    TriggerType.RECORD_CREATED: {"zh": "新建", "en": "is created"},
    TriggerType.RECORD_UPDATED: {"zh": "修改", "en": "is updated"},
    TriggerType.FIELD_CHANGED: {"zh": "指定字段变化", "en": "changes one of its fields"},
    TriggerType.STAGE_CHANGED: {"zh": "阶段变化", "en": "changes stage"},
    TriggerType.EXTERNAL: {"zh": "收到外部事件", "en": "gets an external event"},
}


@dataclass(frozen=True)
class SimulationReport:
    rule_key: str
    form_key: str
    #: the clock the condition used (the as-of moment, or now)
    now: datetime
    as_of: datetime | None
    matched: int
    sample: tuple[SampleRecord, ...]
    actions: ActionReport
    notes: tuple[tuple[str, Mapping[str, str]], ...] = ()

    def note_texts(self, lang: str = "en") -> list[str]:
        texts = []
        for code, params in self.notes:
            words = NOTES[code].get(lang) or NOTES[code]["en"]
            local = {k: (v.get(lang, v.get("en")) if isinstance(v, Mapping) else v)
                     for k, v in params.items()}
            texts.append(words.format(**local))
        return texts

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {"rule": self.rule_key, "form": self.form_key, "now": self.now,
                "as_of": self.as_of, "matched": self.matched,
                "sample": [s.to_dict() for s in self.sample],
                "actions": [a.to_dict() for a in self.actions.actions],
                "cause": self.actions.cause, "notes": self.note_texts(lang),
                "note_codes": [code for code, _ in self.notes]}


def as_of_moment(value: date | datetime | str | None, tz: tzinfo = DEFAULT_TZ
                 ) -> datetime | None:
    """The clock of an as-of simulation: a date is the end of that day in the business time
    zone; a date-time must carry its offset. Text is read as ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value.strip() \
                else date.fromisoformat(value)
        except ValueError:
            raise ValidationFailed({"as_of": [
                f"{value!r} is not a date; write it as 2026-10-31 (or a date-time with its "
                "offset, 2026-10-31T18:00:00+08:00)"]}) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationFailed({"as_of": ["give the time with its offset, e.g. "
                                              "2026-10-31T18:00:00+08:00"]})
        return value
    return datetime.combine(value, time(23, 59, 59), tzinfo=tz)


def simulate_rule(session: Session, doc: Mapping[str, Any], *,
                  as_of: date | datetime | str | None, schema: CompiledSchema,
                  sample: int = SAMPLE_SIZE, env: ActionEnv | None = None,
                  clock: Callable[[], datetime] | None = None) -> SimulationReport:
    """What the DRAFT rule ``doc`` would do now (or as of ``as_of``): how many records match,
    which, and for each action how many records it would change and which. Writes nothing.
    Raises ``MetadataError`` (by JSON pointer) for a document that does not fit the forms."""
    if not 0 <= sample <= 100:
        raise ValidationFailed({"sample": ["must be between 0 and 100"]})
    env = env or ActionEnv()
    rule = check_rule(doc)
    moment = as_of_moment(as_of, env.tz)
    now = moment or (clock or (lambda: datetime.now(UTC)))()
    bound = bind_rule(session, rule, schema, now=now, env=env)
    ids = bound.ids(created_until=moment)
    target = Target(session, bound.form, ids, sample)
    matched = int(session.execute(select(func.count()).select_from(ids.subquery()))
                  .scalar_one())
    first = target.sample(bound.form.table.c.id.is_not(None))
    cause = rule_cause(rule, at=now, run_token="simulation")
    report = apply_actions(session, rule.action_docs, form_key=rule.form, ids=ids,
                           cause=cause, source=rule.source, clock=lambda: now, schema=schema,
                           dry_run=True, env=env, sample=sample)
    notes: list[tuple[str, Mapping[str, Any]]] = []
    if moment is not None:
        notes.append(("as_of_values", {"day": moment.astimezone(env.tz).date().isoformat()}))
    if not rule.trigger.scheduled and rule.trigger.type in _WHAT:
        notes.append(("event_trigger", {"what": _WHAT[rule.trigger.type]}))
    kinds = {a.type for a in rule.actions}
    if ActionType.NOTIFY in kinds:
        notes.append(("notify_gates", {}))
    if ActionType.SET_FIELD in kinds and len(kinds) > 1:
        notes.append(("fields_last", {}))
    return SimulationReport(rule.key, rule.form, now, moment, matched, first, report,
                            tuple(notes))


__all__ = ["NOTES", "SimulationReport", "as_of_moment", "simulate_rule"]
