"""The administrator's menu in the navbar: one dropdown instead of a link per tool, so the
navbar fits a phone. A tool appears when its page exists (its blueprint is registered)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for


@dataclass(frozen=True)
class AdminLink:
    endpoint: str
    icon: str
    zh: str
    en: str
    dom_id: str
    #: endpoints (by prefix) under which the link shows as the current page
    active_prefix: str


#: In the order an administrator sets things up: forms, their rules and pools, people, jobs.
ADMIN_LINKS = (
    AdminLink("builder.forms_page", "ui-checks-grid", "表单设计", "Form builder",
              "admin-forms-link", "builder."),
    AdminLink("rules_pages.rules_page", "lightning-charge", "规则", "Rules",
              "admin-rules-link", "rules_pages."),
    AdminLink("segments_pages.segments_page", "people", "客群", "Segments",
              "admin-segments-link", "segments_pages."),
    AdminLink("conditions.playground", "funnel", "条件试算", "Try a condition",
              "admin-conditions-link", "conditions."),
    AdminLink("work_pages.tag_admin", "tags", "标签", "Tags", "admin-tags-link",
              "work_pages.tag_admin"),
    AdminLink("admin.org_page", "diagram-3", "组织与用户", "Organisation and users",
              "admin-org-link", "admin."),
    AdminLink("admin_jobs.jobs_page", "cpu", "后台任务", "Jobs", "admin-jobs-link",
              "admin_jobs."),
)


@dataclass(frozen=True)
class ShownLink:
    url: str
    icon: str
    label: str
    dom_id: str
    active: bool


def admin_links(lang: str) -> list[ShownLink]:
    """The links of the tools this installation has, marking the current one."""
    endpoint = request.endpoint or ""
    return [ShownLink(url_for(link.endpoint), link.icon, link.zh if lang == "zh" else link.en,
                      link.dom_id, endpoint.startswith(link.active_prefix))
            for link in ADMIN_LINKS if link.endpoint in current_app.view_functions]


def page_exists(endpoint: str) -> bool:
    """Whether this installation serves ``endpoint`` (its feature's blueprint is registered)."""
    return endpoint in current_app.view_functions
