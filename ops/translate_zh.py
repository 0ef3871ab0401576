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
    "Some fields are invalid": "部分字段有误",
    "Some parameters are invalid": "部分参数有误",
    "Your account's role may not open this page or do this.": "您的账户角色无权打开此页面或执行此操作。",
    "This account no longer exists or has changed; log in again": "该账户已不存在或已变更，请重新登录",
    # The audit log pages (templates/log/).
    "A draw under the beacon scheme “none” is only as fair as the operator, who knows the secret before the deadline; with a drand round committed in advance, nobody, the operator included, knows the seed until that round is published.": "采用信标方案“none”的抽取，其公平性只取决于运营方是否公正，因为运营方在截止前就知道秘密值；若事先承诺使用某一轮 drand 随机信标，则在该轮发布之前，任何人（包括运营方）都无法知道种子。",
    "Add --json for machine-readable output:": "加上 --json 可输出机器可读的结果：",
    "Against a running server": "通过运行中的服务器验证",
    "All types": "全部类型",
    "Audit log": "审计日志",
    "Back to the newest entries": "回到最新条目",
    "Check it yourself": "自行核验",
    "Checkpoint root (hex)": "检查点根哈希（十六进制）",
    "Checkpoint size": "检查点大小",
    "Checks every entry, the tree and the latest signed checkpoint, reading the database directly:": "直接读取数据库，检查每个条目、默克尔树和最新的签名检查点：",
    "Command": "命令",
    "Consistency proof from size M to size N": "从大小 M 到大小 N 的一致性证明",
    "Details": "详情",
    "Entries 0 to 999, one per line, exactly as stored": "第 0 至 999 条，每行一条，与存储的字节完全一致",
    "Entries, newest first": "日志条目（最新在前）",
    "Entry": "条目",
    "Every state change that a supervisor may want to check is appended to this log and never changed afterwards. The log is a Merkle tree, and each checkpoint of it is signed, so anyone can check that no entry was altered, removed or slipped in later.": "监管人员可能需要核查的每一项状态变更都追加到本日志中，此后永不修改。日志是一棵默克尔树，每个检查点都经过签名，因此任何人都可以核实没有条目被篡改、删除或事后插入。",
    "Exact bytes": "原始字节",
    "How to verify": "如何验证",
    "How to verify the log": "如何验证日志",
    "Inclusion proof": "包含证明",
    "Inclusion proof of entry I in the tree of size N": "条目 I 在大小为 N 的树中的包含证明",
    "Keep this key line: a checkpoint that does not verify under it is not this log's.": "请保存这行公钥：不能用它验证通过的检查点，就不是本日志的检查点。",
    "Latest signed checkpoint": "最新签名检查点",
    "Leaf hash": "叶子哈希",
    "Length (bytes)": "长度（字节）",
    "Log entry": "日志条目",
    "No entries here yet: the log grows as accounts, notices, bids and selections are made.": "日志中还没有条目：随着账户注册、公告发布、报名和选取的进行，日志会不断增长。",
    "No entries match these filters.": "没有符合筛选条件的条目。",
    "No signed checkpoint covers this entry yet. Reload the page in a few seconds.": "还没有签名检查点覆盖此条目，请几秒后刷新页面。",
    "Not verified": "未通过验证",
    "Notice id": "公告编号",
    "On the server": "在服务器上验证",
    "Origin": "来源标识",
    "Pretty-printed": "格式化显示",
    "Replace I with an entry's seq, N with a checkpoint's size and M with the size of an earlier checkpoint.": "将 I 替换为条目序号，N 替换为检查点大小，M 替换为较早检查点的大小。",
    "Root (base64)": "根哈希（base64）",
    "Root (hex)": "根哈希（十六进制）",
    "Seq": "序号",
    "Show all entries": "显示全部条目",
    "Show between 1 and {max} entries at a time.": "每次显示的条目数须在 1 到 {max} 之间。",
    "Showing older entries.": "正在显示较早的条目。",
    "Signed at (UTC)": "签名时间（UTC）",
    "Signed note": "签名文本",
    "Size (entries)": "大小（条目数）",
    "The API": "接口",
    "The entry exactly as stored and served (canonical JSON, UTF-8). The leaf hash is SHA-256 of one zero byte followed by these bytes.": "条目与存储和提供的字节完全一致（规范 JSON，UTF-8 编码）。叶子哈希是一个零字节加上这些字节的 SHA-256 值。",
    "The latest signed checkpoint": "最新的签名检查点",
    "The log has no entry {seq}.": "日志中没有序号为 {seq} 的条目。",
    "The log makes a silent re-draw, a changed candidate list or price, a seed chosen after the bids, a forged checkpoint, and any rewritten history detectable; a rewrite is caught by anyone who kept an earlier checkpoint. It makes eligibility decisions visible, not correct.": "本日志使暗中重新抽取、更改候选名单或报价、在报名之后选定种子、伪造检查点以及改写历史都能被发现；只要保存过较早的检查点，任何人都能发现历史被改写。它使资格判定公开可见，但不保证判定正确。",
    "The proof is empty: this entry is the whole tree, so its leaf hash is the root.": "证明为空：此条目就是整棵树，其叶子哈希即为根哈希。",
    "The same checks through the public API, from any computer with market installed:": "在任何安装了 market 的计算机上，通过公开接口进行同样的检查：",
    "The verifier key": "验证公钥",
    "This notice uses the beacon scheme “none”: its draw is only as fair as the operator, who knows the secret before the deadline.": "此公告采用信标方案“none”：其抽取的公平性只取决于运营方是否公正，因为运营方在截止前就知道秘密值。",
    "This “Show more” link is not valid; start again from the newest entries.": "此“显示更多”链接无效，请从最新条目重新开始。",
    "Time (UTC)": "时间（UTC）",
    "To check later that history was not rewritten, save today's checkpoint, and next time check that it is consistent with the latest one:": "若要日后核实历史未被改写，请保存今天的检查点，下次检查它与最新检查点是否一致：",
    "Type": "类型",
    "Verified": "已验证",
    "Verifier key": "验证公钥",
    "What": "内容",
    "Without installing market": "无需安装 market",
    "ops/verify_log.py is a single file from the market source code. It needs only Python 3 and the cryptography package:": "ops/verify_log.py 是 market 源代码中的一个独立文件，只需要 Python 3 和 cryptography 包：",
    "the latest signed checkpoint": "最新的签名检查点",
    "the proof does not lead to the checkpoint's root. Please report this to the supervisors.": "该证明无法推导出检查点的根哈希。请向监管人员报告。",
    "the proof leads from this entry's leaf hash to the root of the latest signed checkpoint, so the entry is in the log.": "该证明可从此条目的叶子哈希推导出最新签名检查点的根哈希，因此该条目确在日志之中。",
    "the same inclusion proof as JSON": "同一包含证明的 JSON 格式",
    "this entry's bytes from the API": "通过接口获取此条目的字节",
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
