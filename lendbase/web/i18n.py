"""UI strings of the server-rendered pages in zh-CN and English.

A small catalogue is enough for the pages: every label that comes from metadata already carries
both languages (``{"zh": ..., "en": ...}``), so only the chrome (buttons, headings, messages) lives
here. The language is the one stored in the session cookie, else the settings' default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, has_request_context, request, session

LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}

MESSAGES: dict[str, dict[str, str]] = {
    # chrome
    "app_name": {"zh": "LendBase 信贷平台", "en": "LendBase Lending Platform"},
    "brand_sub": {"zh": "信贷平台", "en": "Lending"},
    "home": {"zh": "首页", "en": "Home"},
    "logout": {"zh": "退出登录", "en": "Sign out"},
    "language": {"zh": "语言", "en": "Language"},
    "signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    "skip_to_content": {"zh": "跳到正文", "en": "Skip to content"},
    "other_forms": {"zh": "其他表单", "en": "Other forms"},
    # login
    "login_title": {"zh": "登录", "en": "Sign in"},
    "login_subtitle": {"zh": "请使用您的账号登录", "en": "Sign in with your account"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "login_button": {"zh": "登录", "en": "Sign in"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "login_locked": {
        "zh": "登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试或联系管理员解锁",
        "en": "Too many failed sign-ins: the account is locked; try again in {minutes} "
              "minute(s) or ask an administrator to unlock it",
    },
    "login_required": {"zh": "请先登录", "en": "Please sign in first"},
    "logged_out": {"zh": "您已退出登录", "en": "You have signed out"},
    # home
    "home_title": {"zh": "应用与表单", "en": "Apps and forms"},
    "home_intro": {"zh": "选择一个表单查看和录入数据。",
                   "en": "Pick a form to browse and enter records."},
    "no_apps": {"zh": "还没有安装任何应用或发布任何表单。",
                "en": "No app is installed and no form is published yet."},
    "no_apps_hint": {"zh": "管理员可以运行 lendbase app install apps/credit_template "
                           "安装信贷模板。",
                     "en": "An administrator can run lendbase app install apps/credit_template "
                           "to install the credit template."},
    "version": {"zh": "版本", "en": "Version"},
    "forms_count": {"zh": "{n} 个表单", "en": "{n} form(s)"},
    "open": {"zh": "打开", "en": "Open"},
    # list
    "new_record": {"zh": "新建", "en": "New"},
    "search": {"zh": "搜索", "en": "Search"},
    "search_placeholder": {"zh": "搜索关键字…", "en": "Search…"},
    "filters": {"zh": "筛选", "en": "Filters"},
    "apply": {"zh": "应用", "en": "Apply"},
    "clear": {"zh": "清除", "en": "Clear"},
    "any": {"zh": "全部", "en": "Any"},
    "yes": {"zh": "是", "en": "Yes"},
    "no": {"zh": "否", "en": "No"},
    "from": {"zh": "从", "en": "From"},
    "to": {"zh": "至", "en": "To"},
    "min": {"zh": "最小", "en": "Min"},
    "max": {"zh": "最大", "en": "Max"},
    "first_page": {"zh": "首页", "en": "First page"},
    "next_page": {"zh": "下一页", "en": "Next page"},
    "empty_title": {"zh": "还没有记录", "en": "No records yet"},
    "empty_create": {"zh": "新建第一条记录", "en": "Create the first one"},
    "empty_no_right": {"zh": "您暂无新建权限。", "en": "You may not create records here."},
    "no_match_title": {"zh": "没有符合条件的记录", "en": "No records match"},
    "no_match_hint": {"zh": "请调整搜索或筛选条件。",
                      "en": "Change the search or the filters."},
    "sort_by": {"zh": "按此列排序", "en": "Sort by this column"},
    "showing_n": {"zh": "本页 {n} 条", "en": "{n} on this page"},
    # export
    "export": {"zh": "导出", "en": "Export"},
    "export_title": {"zh": "导出{form}", "en": "Export {form}"},
    "export_body": {"zh": "导出您有权查看的全部记录。敏感信息保持脱敏，本次导出将连同原因记入"
                          "访问日志。",
                    "en": "Exports every record you may see. Sensitive values stay masked; the "
                          "export and its reason are logged."},
    "export_body_filtered": {"zh": "按当前的搜索和筛选条件导出全部页的记录。敏感信息保持脱敏，"
                                   "本次导出将连同原因记入访问日志。",
                             "en": "Exports every page of records that match the current "
                                   "search and filters. Sensitive values stay masked; the "
                                   "export and its reason are logged."},
    "export_format": {"zh": "文件格式", "en": "File format"},
    "export_reason": {"zh": "导出原因", "en": "Reason"},
    "export_reason_placeholder": {"zh": "例如：月度风险报表", "en": "e.g. monthly risk report"},
    "export_submit": {"zh": "导出", "en": "Export"},
    "export_reason_required": {"zh": "导出需要填写原因，未导出任何数据。",
                               "en": "An export needs a reason; nothing was exported."},
    # record page / form
    "view": {"zh": "查看", "en": "View"},
    "edit": {"zh": "编辑", "en": "Edit"},
    "delete": {"zh": "删除", "en": "Delete"},
    "save": {"zh": "保存", "en": "Save"},
    "cancel": {"zh": "取消", "en": "Cancel"},
    "back_to_list": {"zh": "返回列表", "en": "Back to list"},
    "new_title": {"zh": "新建{form}", "en": "New {form}"},
    "edit_title": {"zh": "编辑{form}", "en": "Edit {form}"},
    "created": {"zh": "已保存", "en": "Saved"},
    "updated": {"zh": "修改已保存", "en": "Changes saved"},
    "deleted": {"zh": "记录已删除", "en": "Record deleted"},
    "no_changes": {"zh": "没有修改", "en": "Nothing changed"},
    "delete_confirm_title": {"zh": "确认删除", "en": "Delete this record?"},
    "delete_confirm_body": {"zh": "删除后不可恢复，删除操作会记入审计日志。",
                            "en": "This cannot be undone; the deletion is kept in the audit "
                                  "trail."},
    "error_summary": {"zh": "有 {n} 处需要修改，请检查标红的字段：",
                      "en": "{n} field(s) need attention:"},
    "required_mark": {"zh": "必填", "en": "required"},
    "auto_generated": {"zh": "保存后自动生成", "en": "Generated on save"},
    "computed_value": {"zh": "自动计算", "en": "Computed"},
    "choose": {"zh": "请选择", "en": "Choose…"},
    "province": {"zh": "省", "en": "Province"},
    "city": {"zh": "市", "en": "City"},
    "county": {"zh": "区县", "en": "County"},
    "add_row": {"zh": "添加一行", "en": "Add row"},
    "remove_row": {"zh": "删除此行", "en": "Remove row"},
    "no_rows": {"zh": "暂无数据", "en": "No rows"},
    "current_file": {"zh": "当前文件", "en": "Current file"},
    "remove_file": {"zh": "移除文件", "en": "Remove the file"},
    "reupload_file": {"zh": "保存未成功，请重新选择文件", "en": "Not saved: choose the file again"},
    "file_limits": {"zh": "允许：{accept}；最大 {max_mb} MB",
                    "en": "Allowed: {accept}; up to {max_mb} MB"},
    "file_limits_size": {"zh": "最大 {max_mb} MB", "en": "Up to {max_mb} MB"},
    "readonly_hint": {"zh": "只读", "en": "Read-only"},
    "masked_hint": {"zh": "敏感信息已脱敏", "en": "Sensitive value, masked"},
    "show": {"zh": "显示", "en": "Show"},
    "unmask_title": {"zh": "查看完整信息", "en": "Show the full value"},
    "unmask_body": {"zh": "查看敏感个人信息需要说明原因，本次查看将记入访问日志。",
                    "en": "Seeing sensitive personal information needs a reason; this view is "
                          "logged."},
    "unmask_reason": {"zh": "查看原因", "en": "Reason"},
    "unmask_reason_placeholder": {"zh": "例如：核实客户身份", "en": "e.g. verifying the "
                                                                   "customer's identity"},
    "unmask_submit": {"zh": "确认查看", "en": "Show value"},
    "unmask_done": {"zh": "已显示完整信息（已记录）", "en": "Full value shown (logged)"},
    "record_info": {"zh": "记录信息", "en": "Record"},
    "history": {"zh": "修改历史", "en": "History"},
    "no_history": {"zh": "暂无历史记录", "en": "No history yet"},
    "action_create": {"zh": "创建", "en": "Created"},
    "action_update": {"zh": "修改", "en": "Updated"},
    "action_delete": {"zh": "删除", "en": "Deleted"},
    "field": {"zh": "字段", "en": "Field"},
    "before": {"zh": "修改前", "en": "Before"},
    "after": {"zh": "修改后", "en": "After"},
    "rows_n": {"zh": "{n} 行", "en": "{n} row(s)"},
    "by": {"zh": "操作人", "en": "By"},
    # system columns
    "col_id": {"zh": "ID", "en": "ID"},
    "col_version": {"zh": "版本", "en": "Version"},
    "col_created_at": {"zh": "创建时间", "en": "Created"},
    "col_updated_at": {"zh": "更新时间", "en": "Updated"},
    "col_created_by": {"zh": "创建人", "en": "Created by"},
    "col_updated_by": {"zh": "更新人", "en": "Updated by"},
    "col_owner_id": {"zh": "负责人", "en": "Owner"},
    # errors
    "error_400_title": {"zh": "请求无效", "en": "Bad request"},
    "error_400_body": {"zh": "请求无法处理，请返回重试。",
                       "en": "The request could not be processed; go back and try again."},
    "error_csrf_title": {"zh": "页面已过期", "en": "The page has expired"},
    "error_csrf_body": {"zh": "为了您的安全，表单需要有效的安全令牌。请刷新页面后重新提交。",
                        "en": "For your safety the form needs a valid security token. Reload "
                              "the page and submit again."},
    "error_403_title": {"zh": "没有权限", "en": "Not allowed"},
    "error_403_body": {"zh": "您没有执行此操作的权限，如需开通请联系管理员。",
                       "en": "You do not have the right to do this; ask an administrator."},
    "error_404_title": {"zh": "页面不存在", "en": "Not found"},
    "error_404_body": {"zh": "您要找的页面或记录不存在，或者您无权查看。",
                       "en": "The page or record does not exist, or you may not see it."},
    "error_405_title": {"zh": "不支持的操作", "en": "Method not allowed"},
    "error_405_body": {"zh": "此页面不支持该操作。", "en": "This page does not support that."},
    "error_409_title": {"zh": "记录已被他人修改", "en": "Someone else changed this record"},
    "error_409_body": {"zh": "在您编辑期间，其他人已保存了这条记录（当前版本 {current}，"
                             "您编辑的是版本 {yours}）。为避免覆盖他人的修改，本次保存未生效。"
                             "请重新加载后再修改。",
                       "en": "While you were editing, someone else saved this record (now "
                             "version {current}, you edited version {yours}). Your change was "
                             "not saved so that theirs is not overwritten. Reload the record "
                             "and apply your change again."},
    "error_409_generic": {"zh": "保存与已有数据冲突，未生效。",
                          "en": "The change conflicts with existing data and was not saved."},
    "error_409_gone": {"zh": "该记录已被他人删除。", "en": "Someone else deleted this record."},
    "reload_record": {"zh": "重新加载记录", "en": "Reload the record"},
    "error_413_title": {"zh": "文件太大", "en": "File too large"},
    "error_413_body": {"zh": "上传的内容超过了允许的大小。",
                       "en": "The upload is larger than allowed."},
    "error_500_title": {"zh": "系统出错了", "en": "Something went wrong"},
    "error_500_body": {"zh": "服务器处理请求时出错，我们已记录该问题。请稍后重试，"
                             "或联系管理员并提供时间点。",
                       "en": "The server failed to handle the request and logged the problem. "
                             "Try again later or tell an administrator when it happened."},
    "error_code": {"zh": "错误代码", "en": "Error code"},
    "go_home": {"zh": "返回首页", "en": "Go to the home page"},
    "go_back": {"zh": "返回上一页", "en": "Go back"},
    "detail": {"zh": "详情", "en": "Details"},
    # record form scripts: file upload with progress (static/js/widgets/file_upload.js)
    "fv_uploading": {"zh": "正在上传 {name}", "en": "Uploading {name}"},
    "fv_upload_progress": {"zh": "上传进度", "en": "Upload progress"},
    "fv_upload_cancel": {"zh": "取消上传", "en": "Cancel upload"},
    "fv_upload_cancelled": {"zh": "已取消上传", "en": "Upload cancelled"},
    "fv_uploaded": {"zh": "已上传", "en": "Uploaded"},
    "fv_upload_failed": {"zh": "上传失败，请检查网络后重新选择文件",
                         "en": "The upload failed; check the connection and choose the file "
                               "again"},
    "fv_upload_pending": {"zh": "文件仍在上传，请等待上传完成后再保存",
                          "en": "A file is still uploading; wait for it to finish, then save"},
}


def current_lang() -> str:
    """The UI language of this request: the session's choice, else the configured default."""
    default = "zh"
    if has_request_context():
        state = current_app.extensions.get("lendbase")
        if state is not None:
            default = state.settings.default_language
        lang = session.get("lang")
        if lang in LANGUAGES:
            return str(lang)
        # no choice made yet (e.g. on the login page): the browser's preference, if we speak it
        if request.accept_languages:
            best = request.accept_languages.best_match(list(LANGUAGES))
            if best:
                return str(best)
    return default


def translate(key: str, lang: str | None = None, **params: Any) -> str:
    """The UI string ``key`` in ``lang`` (default: the request's), formatted with ``params``."""
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(lang or current_lang()) or texts["en"]
    return text.format(**params) if params else text


def pick(label: Mapping[str, str] | str | None, lang: str | None = None,
         fallback: str = "") -> str:
    """The text of a metadata label ``{"zh": ..., "en": ...}`` in the UI language."""
    if label is None:
        return fallback
    if isinstance(label, str):
        return label
    lang = lang or current_lang()
    other = "en" if lang == "zh" else "zh"
    return label.get(lang) or label.get(other) or fallback


# --- the form builder (``b_*`` keys are also sent to the builder's scripts) -------------------
MESSAGES.update({
    "b_admin_only": {"zh": "只有管理员可以设计表单", "en": "Only administrators may design forms"},
    "b_forms_title": {"zh": "表单设计", "en": "Form design"},
    "b_forms_intro": {"zh": "新建、复制表单，或打开设计器修改草稿并发布。",
                      "en": "Create or copy a form, or open the builder to change its draft "
                            "and publish it."},
    "b_new_form": {"zh": "新建表单", "en": "New form"},
    "b_key": {"zh": "标识", "en": "Key"},
    "b_key_hint": {"zh": "小写字母、数字和下划线，以字母开头，最多 40 个字符",
                   "en": "lower-case letters, digits and underscores, starting with a letter, "
                         "at most 40 characters"},
    "b_label_zh": {"zh": "中文名称", "en": "Label (Chinese)"},
    "b_label_en": {"zh": "英文名称", "en": "Label (English)"},
    "b_create": {"zh": "创建并打开设计器", "en": "Create and open the builder"},
    "b_copy": {"zh": "复制", "en": "Copy"},
    "b_new_key": {"zh": "新标识", "en": "New key"},
    "b_open_builder": {"zh": "设计", "en": "Design"},
    "b_state": {"zh": "状态", "en": "State"},
    "b_draft_only": {"zh": "仅草稿，未发布", "en": "Draft only, never published"},
    "b_published_v": {"zh": "已发布 v{n}", "en": "Published v{n}"},
    "b_no_forms": {"zh": "还没有表单。", "en": "No form yet."},
    "b_created": {"zh": "表单已创建", "en": "Form created"},
    "b_not_created": {"zh": "未创建：", "en": "Not created:"},
    "b_builder_title": {"zh": "表单设计器", "en": "Form builder"},
    "b_palette": {"zh": "字段类型", "en": "Field types"},
    "b_palette_hint": {"zh": "拖到画布上，或选中后按回车添加到当前分组",
                       "en": "Drag onto the canvas, or focus one and press Enter to add it to "
                             "the selected section"},
    "b_canvas": {"zh": "画布", "en": "Canvas"},
    "b_properties": {"zh": "属性", "en": "Properties"},
    "b_save": {"zh": "保存草稿", "en": "Save draft"},
    "b_saved": {"zh": "草稿已保存（第 {n} 版草稿）", "en": "Draft saved (draft revision {n})"},
    "b_unsaved": {"zh": "有未保存的修改", "en": "Unsaved changes"},
    "b_undo": {"zh": "撤销", "en": "Undo"},
    "b_redo": {"zh": "重做", "en": "Redo"},
    "b_preview": {"zh": "预览", "en": "Preview"},
    "b_dry_run": {"zh": "检查发布影响", "en": "Check the publish plan"},
    "b_publish": {"zh": "发布", "en": "Publish"},
    "b_history": {"zh": "版本历史", "en": "Version history"},
    "b_add_section": {"zh": "添加分组", "en": "Add a section"},
    "b_add_tab": {"zh": "添加标签页", "en": "Add a tab"},
    "b_section": {"zh": "分组", "en": "Section"},
    "b_tab": {"zh": "标签页", "en": "Tab"},
    "b_columns": {"zh": "列数", "en": "Columns"},
    "b_form": {"zh": "表单", "en": "Form"},
    "b_delete": {"zh": "删除", "en": "Delete"},
    "b_select_hint": {"zh": "选中画布上的字段或分组以编辑其属性。",
                      "en": "Select a field or a section on the canvas to edit it."},
    "b_type": {"zh": "类型", "en": "Type"},
    "b_required": {"zh": "必填", "en": "Required"},
    "b_unique": {"zh": "唯一", "en": "Unique"},
    "b_indexed": {"zh": "建索引", "en": "Indexed"},
    "b_searchable": {"zh": "可搜索", "en": "Searchable"},
    "b_sensitive": {"zh": "敏感（加密存储、脱敏显示）", "en": "Sensitive (encrypted, masked)"},
    "b_readonly": {"zh": "只读", "en": "Read-only"},
    "b_default": {"zh": "默认值", "en": "Default value"},
    "b_help_zh": {"zh": "帮助文字（中文）", "en": "Help (Chinese)"},
    "b_help_en": {"zh": "帮助文字（英文）", "en": "Help (English)"},
    "b_min": {"zh": "最小值", "en": "Minimum"},
    "b_max": {"zh": "最大值", "en": "Maximum"},
    "b_decimals": {"zh": "小数位数", "en": "Decimals"},
    "b_digits": {"zh": "总位数", "en": "Digits"},
    "b_min_length": {"zh": "最短长度", "en": "Minimum length"},
    "b_max_length": {"zh": "最大长度", "en": "Maximum length"},
    "b_pattern": {"zh": "格式（正则表达式）", "en": "Pattern (regular expression)"},
    "b_options": {"zh": "选项", "en": "Options"},
    "b_add_option": {"zh": "添加选项", "en": "Add an option"},
    "b_option_value": {"zh": "值", "en": "Value"},
    "b_target": {"zh": "引用的表单", "en": "Referenced form"},
    "b_on_delete": {"zh": "被引用记录删除时", "en": "When the referenced record is deleted"},
    "b_subtable_columns": {"zh": "子表列", "en": "Sub-table columns"},
    "b_add_column": {"zh": "添加列", "en": "Add a column"},
    "b_min_rows": {"zh": "最少行数", "en": "Minimum rows"},
    "b_max_rows": {"zh": "最多行数", "en": "Maximum rows"},
    "b_min_items": {"zh": "最少选择", "en": "Minimum choices"},
    "b_max_items": {"zh": "最多选择", "en": "Maximum choices"},
    "b_format": {"zh": "编号格式", "en": "Number format"},
    "b_formula": {"zh": "公式", "en": "Formula"},
    "b_result_type": {"zh": "结果类型", "en": "Result type"},
    "b_level": {"zh": "行政区划级别", "en": "Region level"},
    "b_accept": {"zh": "允许的扩展名（逗号分隔）", "en": "Allowed extensions (comma-separated)"},
    "b_max_size_mb": {"zh": "最大文件大小（MB）", "en": "Maximum file size (MB)"},
    "b_mask": {"zh": "脱敏方式", "en": "Mask style"},
    "b_title_field": {"zh": "标题字段", "en": "Title field"},
    "b_drop_column": {"zh": "把字段类型拖到这里，即可添加一列",
                      "en": "Drop a field type here to add a column"},
    "b_flag_conditional": {"zh": "满足条件时才显示", "en": "Shown only when its condition holds"},
    "b_flag_sensitive": {"zh": "敏感信息：加密存储、脱敏显示",
                         "en": "Sensitive: stored encrypted, shown masked"},
    "b_flag_indexed": {"zh": "已建索引：按此字段筛选和排序更快",
                       "en": "Indexed: fast to filter and sort by"},
    "b_list_settings": {"zh": "列表页", "en": "List page"},
    "b_list_columns": {"zh": "显示的列（拖动排序）", "en": "Columns shown (drag to order)"},
    "b_list_columns_hint": {"zh": "员工在列表页看到的列、默认排序和筛选条件。",
                            "en": "The columns, default order and filters staff see on the list."},
    "b_list_columns_max": {"zh": "列表最多显示 20 列", "en": "A list shows at most 20 columns"},
    "b_list_sort": {"zh": "默认排序", "en": "Default order"},
    "b_list_sort_default": {"zh": "（默认：最新创建在前）", "en": "(default: newest first)"},
    "b_list_sort_dir": {"zh": "排序方向", "en": "Order direction"},
    "b_ascending": {"zh": "升序", "en": "Ascending"},
    "b_descending": {"zh": "降序", "en": "Descending"},
    "b_list_filters": {"zh": "筛选条件", "en": "Filters"},
    "b_drag_to_order": {"zh": "拖动排序", "en": "Drag to order"},
    "b_sys_created_at": {"zh": "创建时间", "en": "Created at"},
    "b_sys_updated_at": {"zh": "更新时间", "en": "Updated at"},
    "b_sys_id": {"zh": "记录编号", "en": "Record number"},
    "b_permissions": {"zh": "角色权限", "en": "Role permissions"},
    "b_permissions_hint": {
        "zh": "每个角色可执行的操作、可见的数据范围（本人 / 本团队 / 全部）和字段权限。"
              "管理员始终拥有全部权限。",
        "en": "What each role may do, which rows it sees (own / team / all) and per-field access. "
              "Administrators always have every right."},
    "b_no_roles": {"zh": "还没有角色，请先在组织管理中创建。",
                   "en": "No roles yet; create them under Organisation first."},
    "b_role_unknown": {"zh": "组织中无此角色", "en": "not in the organisation"},
    "b_no_access": {"zh": "无权限", "en": "No access"},
    "b_action_create": {"zh": "新建", "en": "Create"},
    "b_action_read": {"zh": "查看", "en": "Read"},
    "b_action_update": {"zh": "编辑", "en": "Edit"},
    "b_action_delete": {"zh": "删除", "en": "Delete"},
    "b_action_export": {"zh": "导出", "en": "Export"},
    "b_scope": {"zh": "数据范围", "en": "Rows"},
    "b_scope_own": {"zh": "本人负责的", "en": "Own"},
    "b_scope_team": {"zh": "本团队的", "en": "Team's"},
    "b_scope_all": {"zh": "全部", "en": "All"},
    "b_unmask": {"zh": "可查看敏感字段明文（需填写原因）",
                 "en": "May unmask sensitive fields (with a reason)"},
    "b_field_access": {"zh": "字段权限", "en": "Field access"},
    "b_access_edit": {"zh": "可编辑", "en": "Editable"},
    "b_access_readonly": {"zh": "只读", "en": "Read-only"},
    "b_access_hidden": {"zh": "隐藏", "en": "Hidden"},
    "b_visible_when": {"zh": "显示条件（JSON）", "en": "Visible when (JSON)"},
    "b_visible_when_note": {
        "zh": "暂以 JSON 条件填写，例如 {\"field\": \"customer_type\", \"op\": \"=\", "
              "\"value\": \"individual\"}；可视化条件编辑器由规则功能提供。",
        "en": "A JSON condition for now, e.g. {\"field\": \"customer_type\", \"op\": \"=\", "
              "\"value\": \"individual\"}; the visual condition builder arrives with rules."},
    # the visual condition builder (static/js/condition_builder.js); ``cb_*`` keys reach the
    # script as ``condition_strings`` (builder_views.condition_builder_strings)
    "cb_visible_when": {"zh": "显示条件", "en": "Visible when"},
    "cb_visible_when_note": {"zh": "满足条件时才显示；不设条件则始终显示。",
                             "en": "Shown only while the condition holds; always shown without "
                                   "one."},
    "cb_always_visible": {"zh": "无条件，始终显示", "en": "No condition: always shown"},
    "cb_empty": {"zh": "还没有条件", "en": "No condition yet"},
    "cb_conditions": {"zh": "条件", "en": "Conditions"},
    "cb_add_condition": {"zh": "添加条件", "en": "Add condition"},
    "cb_add_group": {"zh": "添加条件组", "en": "Add group"},
    "cb_group_logic": {"zh": "组内条件的组合方式", "en": "How the group's conditions combine"},
    "cb_group_and": {"zh": "满足全部条件（且）", "en": "All of these (and)"},
    "cb_group_or": {"zh": "满足任一条件（或）", "en": "Any of these (or)"},
    "cb_and": {"zh": "且", "en": "and"},
    "cb_or": {"zh": "或", "en": "or"},
    "cb_not": {"zh": "非", "en": "NOT"},
    "cb_negate_condition": {"zh": "取反（非）：不满足此条件时成立",
                            "en": "Negate (NOT): holds when this condition does not"},
    "cb_negate_group": {"zh": "取反（非）：不满足此组时成立",
                        "en": "Negate (NOT): holds when this group does not"},
    "cb_delete_condition": {"zh": "删除此条件", "en": "Delete this condition"},
    "cb_delete_group": {"zh": "删除此条件组", "en": "Delete this group"},
    "cb_clear": {"zh": "清空全部条件", "en": "Clear all conditions"},
    "cb_condition_n": {"zh": "条件 {n}", "en": "Condition {n}"},
    "cb_group_n": {"zh": "条件组 {n}", "en": "Group {n}"},
    "cb_field": {"zh": "字段", "en": "Field"},
    "cb_choose_field": {"zh": "选择字段…", "en": "Choose a field…"},
    "cb_this_form": {"zh": "本表单", "en": "This form"},
    "cb_operator": {"zh": "比较方式", "en": "Comparison"},
    "cb_value": {"zh": "值", "en": "Value"},
    "cb_choose": {"zh": "请选择…", "en": "Choose…"},
    "cb_low": {"zh": "从", "en": "From"},
    "cb_high": {"zh": "至", "en": "To"},
    "cb_yes": {"zh": "是", "en": "yes"},
    "cb_no": {"zh": "否", "en": "no"},
    "cb_token_hint": {"zh": "按回车或逗号添加", "en": "Enter or comma adds"},
    "cb_remove_token": {"zh": "移除 {value}", "en": "Remove {value}"},
    "cb_incomplete": {"zh": "未完成", "en": "Incomplete"},
    "cb_need_field": {"zh": "请选择字段", "en": "choose a field"},
    "cb_need_value": {"zh": "请填写值，填好前此条件不生效", "en": "enter a value; until then "
                                                               "this condition does not apply"},
    "cb_incomplete_n": {"zh": "{n} 个条件未填写完整，尚未生效",
                        "en": "{n} incomplete condition(s), not applied yet"},
    "cb_summary": {"zh": "条件摘要", "en": "Summary of the condition"},
    "cb_summary_invalid": {"zh": "条件有误（见上方提示），无法生成摘要",
                           "en": "The condition has problems (see above); no summary"},
    "cb_edit_json": {"zh": "以 JSON 编辑", "en": "Edit as JSON"},
    "cb_edit_visual": {"zh": "返回可视化编辑", "en": "Back to the visual editor"},
    "cb_json_label": {"zh": "条件（JSON）", "en": "Condition (JSON)"},
    "cb_bad_json": {"zh": "不是有效的 JSON，未保存：{error}",
                    "en": "Not valid JSON, not saved: {error}"},
    "cb_not_showable": {"zh": "可视化编辑器无法显示这个条件，请以 JSON 编辑。",
                        "en": "The visual editor cannot show this condition; edit it as JSON."},
    "cb_op_eq": {"zh": "等于", "en": "equals"},
    "cb_op_ne": {"zh": "不等于", "en": "not equal"},
    "cb_op_lt": {"zh": "小于", "en": "less than"},
    "cb_op_le": {"zh": "小于等于", "en": "at most"},
    "cb_op_gt": {"zh": "大于", "en": "greater than"},
    "cb_op_ge": {"zh": "大于等于", "en": "at least"},
    "cb_op_between": {"zh": "介于", "en": "between"},
    "cb_op_contains": {"zh": "包含", "en": "contains"},
    "cb_op_starts_with": {"zh": "开头是", "en": "starts with"},
    "cb_op_ends_with": {"zh": "结尾是", "en": "ends with"},
    "cb_op_in": {"zh": "是其中之一", "en": "is any of"},
    "cb_op_not_in": {"zh": "不是其中任何一个", "en": "is none of"},
    "cb_op_has_any": {"zh": "包含其中任一", "en": "has any of"},
    "cb_op_is_empty": {"zh": "为空", "en": "is empty"},
    "cb_op_is_not_empty": {"zh": "不为空", "en": "is not empty"},
    "cb_sum_between": {"zh": "{field} 介于 {low} 与 {high} 之间",
                       "en": "{field} between {low} and {high}"},
    "cb_sum_not": {"zh": "非（{text}）", "en": "not ({text})"},
    "cb_paren": {"zh": "（{text}）", "en": "({text})"},
    "cb_list_sep": {"zh": "、", "en": ", "},
    "cb_quote": {"zh": "“{text}”", "en": "\"{text}\""},
    "cb_err_object": {"zh": "条件必须是非空的 JSON 对象",
                      "en": "A condition must be a non-empty JSON object"},
    "cb_err_node": {"zh": "无法识别含有键 {keys} 的条件；请用 and / or / not / field",
                    "en": "Unknown condition with keys {keys}; use and / or / not / field"},
    "cb_err_keys": {"zh": "条件中有多余的键：{keys}，请删除", "en": "Unexpected keys in a "
                                                                "condition: {keys}; remove them"},
    "cb_err_group": {"zh": "\"{op}\" 需要一个非空的条件列表",
                     "en": "\"{op}\" needs a non-empty list of conditions"},
    "cb_err_depth": {"zh": "条件嵌套超过 {n} 层，请简化", "en": "The condition is nested more "
                                                             "than {n} levels deep; simplify it"},
    "cb_err_leaves": {"zh": "条件超过 {n} 个比较，请精简", "en": "The condition has more than {n} "
                                                               "comparisons; narrow it down"},
    "cb_err_field": {"zh": "字段 \"{field}\" 不在可用字段中（已删除、改名，或此类型不能作条件）",
                     "en": "Field \"{field}\" is not one you can use here (deleted, renamed, or "
                           "of a type conditions cannot use)"},
    "cb_err_op": {"zh": "字段 \"{field}\" 不能使用比较方式 \"{op}\"",
                  "en": "Field \"{field}\" cannot use the comparison \"{op}\""},
    "cb_err_value": {"zh": "字段 \"{field}\" 的 \"{op}\" 需要：{need}",
                     "en": "Field \"{field}\" with \"{op}\" needs {need}"},
    "cb_need_none": {"zh": "不填值（删除 \"value\"）", "en": "no value (remove \"value\")"},
    "cb_need_number": {"zh": "一个数字（不加引号）", "en": "a number (without quotes)"},
    "cb_need_integer": {"zh": "一个整数", "en": "a whole number"},
    "cb_need_id": {"zh": "记录编号（正整数）", "en": "a record id (a positive whole number)"},
    "cb_need_date": {"zh": "日期，格式 YYYY-MM-DD", "en": "a date as YYYY-MM-DD"},
    "cb_need_datetime": {"zh": "日期时间，格式 YYYY-MM-DDTHH:MM",
                         "en": "a date and time as YYYY-MM-DDTHH:MM"},
    "cb_need_text": {"zh": "一段非空文字", "en": "a non-empty text"},
    "cb_need_option": {"zh": "此字段的一个选项值", "en": "one of the field's option values"},
    "cb_need_options": {"zh": "由此字段选项值组成的非空列表",
                        "en": "a non-empty list of the field's option values"},
    "cb_need_tokens": {"zh": "非空的文字列表，如 [\"a\", \"b\"]",
                       "en": "a non-empty list of texts, e.g. [\"a\", \"b\"]"},
    "cb_need_boolean": {"zh": "true 或 false", "en": "true or false"},
    "cb_need_pair": {"zh": "两个值的列表 [最小, 最大]，每个为{need}",
                     "en": "a list of two values [low, high], each {need}"},
    "b_invalid_json": {"zh": "不是有效的 JSON：{error}", "en": "Not valid JSON: {error}"},
    "b_conflict": {"zh": "草稿已被其他人修改。重新加载会丢弃您未保存的修改。",
                   "en": "Someone else changed the draft. Reloading discards your unsaved "
                         "changes."},
    "b_reload": {"zh": "重新加载草稿", "en": "Reload the draft"},
    "b_errors_n": {"zh": "草稿有 {n} 个问题，未保存：", "en": "The draft has {n} problem(s) and "
                                                             "was not saved:"},
    "b_plan_title": {"zh": "发布影响", "en": "What publishing will do"},
    "b_plan_empty": {"zh": "草稿与已发布版本相同，无需发布。",
                     "en": "The draft equals the published version: nothing to publish."},
    "b_rows_affected": {"zh": "影响 {n} 行", "en": "{n} row(s) affected"},
    "b_samples": {"zh": "无法转换的值示例", "en": "Values that would not convert"},
    "b_needs_confirm": {"zh": "其中有需要确认的风险操作。", "en": "Some operations are risky "
                                                                "and need your confirmation."},
    "b_blocking": {"zh": "有无法转换的数据：请在下方填写回填规则后重新检查。",
                   "en": "Some values would not convert: say what they become below, then "
                         "check again."},
    "b_backfill": {"zh": "处理已有数据", "en": "Existing values"},
    "b_backfill_new": {"zh": "为已有记录填值（可选）", "en": "Fill in existing records (optional)"},
    "b_backfill_map": {"zh": "逐个替换（每行：旧值 => 新值）",
                       "en": "Replace values (one per line: old => new)"},
    "b_backfill_else": {"zh": "其他无法转换的值改为（留空则清空）",
                        "en": "Every other value that does not convert becomes (empty clears "
                              "it)"},
    "b_backfill_fill": {"zh": "空值填为", "en": "Fill empty rows with"},
    "b_check_again": {"zh": "按回填规则重新检查", "en": "Check again with the backfill"},
    "b_confirm_label": {"zh": "我已阅读以上影响，确认发布", "en": "I have read the plan and "
                                                                "confirm the publish"},
    "b_note": {"zh": "发布说明", "en": "Release note"},
    "b_published_ok": {"zh": "已发布为第 {n} 版", "en": "Published as version {n}"},
    "b_open_form": {"zh": "打开录入页", "en": "Open the entry form"},
    "b_versions": {"zh": "已发布版本", "en": "Published versions"},
    "b_restore": {"zh": "恢复为草稿", "en": "Restore as draft"},
    "b_restore_confirm": {"zh": "用第 {n} 版替换当前草稿？", "en": "Replace the draft with "
                                                                  "version {n}?"},
    "b_restored": {"zh": "已将第 {n} 版恢复为草稿", "en": "Version {n} restored as the draft"},
    "b_compare": {"zh": "与已发布版本比较", "en": "Compare with the published version"},
    "b_no_versions": {"zh": "尚未发布。", "en": "Not published yet."},
    "b_no_changes": {"zh": "草稿与已发布版本没有差别。", "en": "The draft equals the published "
                                                             "version."},
    "b_diff_add": {"zh": "新增", "en": "added"},
    "b_diff_remove": {"zh": "删除", "en": "removed"},
    "b_diff_change": {"zh": "修改", "en": "changed"},
    "b_diff_move": {"zh": "移动", "en": "moved"},
    "b_drop_here": {"zh": "把字段拖到这里", "en": "Drop fields here"},
    "b_keyboard_help": {"zh": "快捷键：Ctrl+Z 撤销，Ctrl+Y 重做，Delete 删除，↑/↓ 移动选中字段，"
                              "Ctrl+S 保存",
                        "en": "Keys: Ctrl+Z undo, Ctrl+Y redo, Delete removes, ↑/↓ move the "
                              "selected field, Ctrl+S saves"},
    "b_preview_errors": {"zh": "草稿有问题，无法预览：", "en": "The draft has problems and "
                                                            "cannot be previewed:"},
    "b_close": {"zh": "关闭", "en": "Close"},
    "b_network_error": {"zh": "请求失败：{error}", "en": "The request failed: {error}"},
    "b_first_publish": {"zh": "首次发布：将创建数据表。", "en": "First publish: the table will be "
                                                             "created."},
    "b_new_field": {"zh": "新字段", "en": "New field"},
    "b_new_section": {"zh": "新分组", "en": "New section"},
    "b_new_tab": {"zh": "新标签页", "en": "New tab"},
    "b_back_to_forms": {"zh": "全部表单", "en": "All forms"},
    "b_none": {"zh": "（无）", "en": "(none)"},
    "b_label": {"zh": "名称", "en": "Label"},
    "b_help": {"zh": "帮助文字", "en": "Help text"},
    "b_lang": {"zh": "预览语言", "en": "Preview language"},
    "b_refresh": {"zh": "刷新", "en": "Refresh"},
    "b_saving": {"zh": "正在保存…", "en": "Saving…"},
    "b_all_saved": {"zh": "已保存", "en": "All changes saved"},
    "b_diff_intro": {"zh": "与已发布的第 {n} 版相比：", "en": "Compared with published "
                                                             "version {n}:"},
    "b_published_at": {"zh": "发布于", "en": "Published at"},
    "b_published_by": {"zh": "发布人", "en": "Published by"},
    "b_plan_ok": {"zh": "可以发布。", "en": "Ready to publish."},
    "b_type_text": {"zh": "单行文本", "en": "Text"},
    "b_type_textarea": {"zh": "多行文本", "en": "Long text"},
    "b_type_integer": {"zh": "整数", "en": "Integer"},
    "b_type_decimal": {"zh": "小数", "en": "Decimal"},
    "b_type_money": {"zh": "金额", "en": "Money"},
    "b_type_percent": {"zh": "百分比", "en": "Percent"},
    "b_type_date": {"zh": "日期", "en": "Date"},
    "b_type_datetime": {"zh": "日期时间", "en": "Date and time"},
    "b_type_boolean": {"zh": "是/否", "en": "Yes / no"},
    "b_type_select": {"zh": "单选", "en": "Choice"},
    "b_type_multiselect": {"zh": "多选", "en": "Multiple choice"},
    "b_type_reference": {"zh": "关联记录", "en": "Reference"},
    "b_type_subtable": {"zh": "子表", "en": "Sub-table"},
    "b_type_user": {"zh": "用户", "en": "User"},
    "b_type_file": {"zh": "文件", "en": "File"},
    "b_type_phone": {"zh": "手机号", "en": "Mobile phone"},
    "b_type_email": {"zh": "邮箱", "en": "Email"},
    "b_type_id_number": {"zh": "身份证号", "en": "ID card number"},
    "b_type_uscc": {"zh": "统一社会信用代码", "en": "USCC"},
    "b_type_region": {"zh": "行政区划", "en": "Region"},
    "b_type_auto_number": {"zh": "自动编号", "en": "Auto number"},
    "b_type_computed": {"zh": "计算字段", "en": "Computed"},
})
