"""The rule engine: rules as metadata (``/api/v1/meta/rules``), triggers, set-based actions,
simulation before publishing (docs/rules.md).

- ``model``: rule documents as frozen dataclasses, semantic checks, cause keys (pure);
- ``bind``: a rule bound to the published forms (condition compiled to SQL, every problem by
  JSON pointer);
- ``actions``: ``apply_actions``, the set-based, idempotent action executor shared with
  segments (``fields``: field changes with audit rows; ``outbound``: notifications and
  webhooks; ``webhooks``: the signed POST job);
- ``engine``: the event handler, ``run_rule`` and the scheduled job; ``runs``: the run log;
- ``simulate``: ``simulate_rule`` for drafts, now or as of a past day;
- ``publish``: ``publish_rule`` (the metadata API's publisher of kind ``rules``);
- ``registry``: published rules cached by metadata generation, the app's rules runtime.
"""

from lendbase.rules.actions import (
    ActionEnv,
    ActionOutcome,
    ActionReport,
    SampleRecord,
    apply_actions,
    parse_actions,
)
from lendbase.rules.bind import BoundRule, bind_rule
from lendbase.rules.engine import install, on_event, run_rule, run_rule_job, trigger_matches
from lendbase.rules.model import (
    ActionType,
    Once,
    RuleDef,
    TriggerType,
    action_errors,
    cause_pattern,
    check_rule,
    load_rule,
    rule_cause,
    semantic_errors,
)
from lendbase.rules.publish import RulePublishResult, publish_rule
from lendbase.rules.registry import RuleRegistry, RulesRuntime, bind_runtime, runtime_for
from lendbase.rules.runs import RuleRun, RunStatus, last_runs, list_runs
from lendbase.rules.simulate import SimulationReport, simulate_rule

__all__ = [
    "ActionEnv", "ActionOutcome", "ActionReport", "ActionType", "BoundRule", "Once",
    "RuleDef", "RulePublishResult", "RuleRegistry", "RuleRun", "RulesRuntime", "RunStatus",
    "SampleRecord", "SimulationReport", "TriggerType", "action_errors", "apply_actions",
    "bind_rule", "bind_runtime", "cause_pattern", "check_rule", "install", "last_runs",
    "list_runs", "load_rule", "on_event", "parse_actions", "publish_rule", "rule_cause",
    "run_rule", "run_rule_job", "runtime_for", "semantic_errors", "simulate_rule",
    "trigger_matches",
]
