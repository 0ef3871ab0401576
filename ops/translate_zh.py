"""Fill the zh_Hans catalog from the table below (run after ops/i18n).

Translations live here as one reviewable table; ops/i18n keeps the catalog's ids in step
with the code, and this writes the Chinese. Entries already translated in the catalog are
kept unless the table says otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ZH = {
    "API": "接口",
    "Administrator": "管理员",
    "Agency": "中介机构",
    "Agency accounts": "中介机构账户",
    "All roles": "全部角色",
    "Anyone can download the log and re-derive the result offline.": "任何人都可以下载日志，离线重新推算结果。",
    "At least 10 characters.": "至少 10 个字符。",
    "At the deadline the secret and the bids are revealed and the draw is computed from them.": "截止时公开秘密值和全部报名，并据此计算抽取结果。",
    "Back to the home page": "返回首页",
    "Bad request": "请求有误",
    "Choose one of: {expected}.": "请从以下选项中选择：{expected}。",
    "Conflict": "状态冲突",
    "Create account": "创建账户",
    "E-mail": "电子邮箱",
    "Eligible agencies bid; each bid is sealed by its hash in the public log.": "符合条件的中介机构报名；每份报名以其哈希值封存在公开日志中。",
    "Enter a date and time such as 2026-12-04T09:00:00+08:00.": "请输入日期和时间，例如 2026-12-04T09:00:00+08:00。",
    "Enter a date such as 2026-12-31.": "请输入日期，例如 2026-12-31。",
    "Enter a name.": "请输入名称。",
    "Enter a valid e-mail address, such as name@example.cn.": "请输入有效的电子邮箱，例如 name@example.cn。",
    "Enter a whole number.": "请输入整数。",
    "Enter text here.": "请在此输入文字。",
    "Every selection is published in an append-only log that anyone can verify.": "每一次选取都记录在只增不改、人人可验证的公开日志中。",
    "Filter": "筛选",
    "Forbidden": "无权访问",
    "Have an account?": "已有账户？",
    "Home": "首页",
    "How a selection works": "选取流程",
    "I am": "我是",
    "Intermediary services supermarket": "中介服务网上超市",
    "Internal server error": "服务器内部错误",
    "Invalid input": "输入有误",
    "Language": "语言",
    "Log in": "登录",
    "Log in first": "请先登录",
    "Log out": "退出",
    "Main": "主导航",
    "Market": "中介超市",
    "Method not allowed": "不支持该请求方法",
    "Must be at least {ge}.": "不能小于 {ge}。",
    "Must be at most {le}.": "不能大于 {le}。",
    "Must be greater than {gt}.": "必须大于 {gt}。",
    "My account": "我的账户",
    "Name": "名称",
    "New here?": "第一次来？",
    "No users with this role yet. Staff accounts are created with: market users create --email E --password P --role admin|supervisor": "暂无该角色的用户。工作人员账户用以下命令创建：market users create --email E --password P --role admin|supervisor",
    "Nobody has registered yet.": "还没有人注册。",
    "Not found": "未找到",
    "On the marketplace now": "平台现状",
    "Only project owners and agencies can register; staff accounts are created by an administrator.": "只有项目业主和中介机构可以自行注册；工作人员账户由管理员创建。",
    "Password": "密码",
    "Payload too large": "内容过大",
    "Project owner": "项目业主",
    "Project owners": "项目业主",
    "Project owners buy environmental assessments, surveys, design reviews and other intermediary services from registered agencies. The agency is chosen in public, and anyone can re-run every draw and check that the history was not changed.": "项目业主在这里向入驻的中介机构购买环境影响评价、勘察、设计审查等中介服务。中介机构公开选取，任何人都可以重新运行每一次抽取，并核验历史记录未被篡改。",
    "Project owners post procurement notices; agencies bid for them. Staff accounts are created by an administrator.": "项目业主发布采购公告，中介机构报名参与。工作人员账户由管理员创建。",
    "Public id": "公开编号",
    "Register": "注册",
    "Register as a project owner": "注册为项目业主",
    "Register as an agency": "注册为中介机构",
    "Registered": "注册时间",
    "Role": "角色",
    "Service unavailable": "服务暂不可用",
    "Show more": "显示更多",
    "Skip to content": "跳到正文",
    "Something went wrong on our side; it has been logged": "服务器出错，已记录在案",
    "Supervisor": "监管人员",
    "Supervisors": "监管人员",
    "The form has expired or was not sent by this site (CSRF token missing or wrong); reload the page and try again": "表单已过期或并非由本站提交（CSRF 令牌缺失或错误）；请刷新页面后重试",
    "The owner publishes a notice; the server commits to a secret before any bid arrives.": "业主发布公告；在任何报名之前，服务器先对一个秘密值作出承诺。",
    "The password must be at least 10 characters long.": "密码长度至少为 10 个字符。",
    "This e-mail address is already registered.": "该电子邮箱已注册。",
    "This field is not allowed.": "不允许填写此项。",
    "This field is required.": "此项为必填项。",
    "Too long: at most {max_length} characters.": "太长：最多 {max_length} 个字符。",
    "Too many requests": "请求过于频繁",
    "Too short: at least {min_length} characters.": "太短：至少 {min_length} 个字符。",
    "Unauthorized": "未登录",
    "Unsupported media type": "不支持的内容类型",
    "Users": "用户",
    "Wrong e-mail address or password.": "电子邮箱或密码错误。",
    "You are logged in.": "您已登录。",
    "You are logged out.": "您已退出。",
    "Your account is ready. Welcome!": "账户已创建，欢迎！",
    "Your password has been changed.": "密码已修改。",
    "Your public id is how the public log refers to you; your name and e-mail never appear in it.": "公开日志只用公开编号指代您，绝不记录您的姓名和电子邮箱。",
    "a project owner (业主)": "项目业主",
    "an agency (中介机构)": "中介机构",
    "Too many attempts from this address; try again in {retry_after} s": "该地址尝试次数过多，请 {retry_after} 秒后再试",
    "The bearer token is invalid or expired": "访问令牌无效或已过期",
    "Your account's role may not open this page or do this.": "您的账户角色无权打开此页面或执行此操作。",
    "This account no longer exists or has changed; log in again": "该账户已不存在或已变更，请重新登录",
}


def main() -> int:
    path = Path(__file__).resolve().parent.parent / "market/translations/zh_Hans/LC_MESSAGES/messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        if message.id in ZH:
            message.string = ZH[message.id]
        elif not message.string:
            missing.append(message.id)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, sort_output=True, omit_header=False)
    for msgid in missing:
        print(f"untranslated: {msgid!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
