"""Laying out a shared drive (``xietong init``): folders, rules copy, templates, tracking table.

Idempotent: only what is missing is created, an existing file is never overwritten.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from automation.io.drive import DrivePaths, drive_paths
from automation.io.ledger import DRIVE_ID_FILE
from automation.io.safewrite import E_DEFERRED_CHANGED, FileSnapshot, WriteDeferred, safe_write
from automation.io.templates import write_workbook
from automation.rules import Rules, default_rules_dir, load_rules


@dataclass
class InitReport:
    root: Path
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def create_new(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` only if it does not exist; atomic, never overwrites.

    Goes through the one safe writer: "expected missing" makes it link the file in, so a file
    that appeared meanwhile is kept (False), and the new file gets the default mode.
    """
    if path.exists():
        return False
    try:
        safe_write(path, data, expected=FileSnapshot(path, -1, 0, ""))
    except WriteDeferred as exc:
        if exc.reason_code == E_DEFERRED_CHANGED:
            return False  # created by someone else meanwhile: theirs is kept
        raise
    return True


def _copy_rules(target: Path, report: InitReport) -> None:
    source = default_rules_dir()
    for src in sorted(source.rglob("*.yaml")):
        dest = target / src.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        (report.created if create_new(dest, src.read_bytes()) else report.kept).append(dest)


def _workbook_bytes(kind: str, rules: Rules, *, macros: bool = False) -> bytes:
    """A blank workbook; ``macros``: the ``.xlsm`` variant with Excel buttons (issue 15)."""
    with tempfile.TemporaryDirectory() as tmp:
        if macros:
            from automation.io.macro_workbooks import write_macro_workbook

            path = write_macro_workbook(kind, rules, Path(tmp) / "book.xlsm")
        else:
            path = write_workbook(kind, rules, Path(tmp) / "book.xlsx")
        return path.read_bytes()


def user_guide(paths: DrivePaths, rules: Rules) -> str:
    """The 使用说明 for department users, in Chinese, naming this drive's folders."""
    f = rules.drive.folders
    forms = rules.forms
    return f"""# 跨部门工作协调共享盘 使用说明

本共享盘由协同（xietong）自动化系统维护。各部门继续使用 Excel 或 WPS 填写表格，保存到下列文件夹即可，
不需要安装任何软件，也不需要启用宏。

## 文件夹

| 文件夹 | 用途 | 谁使用 |
|---|---|---|
| {f.templates} | 空白模板：{forms["request"].title}、{forms["minutes"].title}、{forms["execution"].title}等 | 所有部门 |
| {f.inbox} | 把填好的《{forms["request"].title}》保存到这里即完成提交 | 发起部门 |
| {rules.drive.tracking_file} | 《{forms["tracking"].title}》，灰色列由系统自动填写 | 协调管理办公室 |
| {f.items} | 每个协调事项一个文件夹：申请表、会议纪要、各部门执行跟踪表、方案 | 牵头部门、配合部门 |
| {f.weekly} | 周进度报告（每周五下班前） | 配合部门 |
| {f.summary} | 领导汇总表（系统自动生成，请勿修改） | 领导 |
| {f.archive} | 已完成事项的归档及文件清单 | 协调管理办公室 |
| {f.feedback} | 系统校验结果和登记回执：表格有错误时，这里会说明哪个单元格需要修改 | 提交人 |
| {f.outbox} | 系统待发送的通知邮件 | 系统 |
| {f.log} | 系统操作记录（审计日志） | 管理员 |
| {f.rules} | 规则配置（部门、时限、表单），由 IT 维护 | IT |

## 提交申请

1. 从“{f.templates}”复制《{forms["request"].title}》，填写后另存到“{f.inbox}”。
2. 系统会在 1 个工作日内登记并分配唯一编号（如 {rules.drive.item_ids.format(2026, 1)}）。
3. 如果表格有问题，“{f.feedback}”中会出现校验结果，标明具体单元格和修改方法；改好后重新保存到收件箱即可。

## 注意

- 系统不会修改你正在编辑的文件；文件打开时，系统会等你关闭后再更新。
- 请不要修改灰色（系统自动填写）的单元格。
- 日期请按 2026-03-10 的格式填写；调休上班日也是工作日。
- “{f.templates}”中的 .xlsm 文件是带按钮（校验、提交、刷新时限等）的版本，需要启用宏并在电脑上设置
  Python（见 docs/buttons.zh.md）；不用按钮、只保存文件，也能完成全部操作。
"""


def init_drive(root: str | Path) -> InitReport:
    """Create every folder and file of a drive that is missing; never overwrite anything."""
    paths = drive_paths(root)
    report = InitReport(paths.root)
    paths.root.mkdir(parents=True, exist_ok=True)
    for folder in paths.folders():
        if folder.is_dir():
            report.kept.append(folder)
        else:
            folder.mkdir(parents=True)
            report.created.append(folder)
    ident = paths.root / DRIVE_ID_FILE
    if create_new(ident, f"{uuid.uuid4()}\n".encode()):
        report.created.append(ident)
    _copy_rules(paths.rules, report)
    rules = load_rules(paths.rules)  # the drive's own rules from now on
    paths = drive_paths(root, rules)
    for kind, form in rules.forms.items():
        if kind == "summary":
            continue  # rebuilt by the automation, not filled by people
        dest = paths.templates / form.file_name
        created = not dest.exists() and create_new(dest, _workbook_bytes(kind, rules))
        (report.created if created else report.kept).append(dest)
        if form.buttons:  # the variant with Excel buttons, for those who can run macros
            dest = paths.templates / Path(form.file_name).with_suffix(".xlsm")
            created = not dest.exists() and create_new(
                dest, _workbook_bytes(kind, rules, macros=True)
            )
            (report.created if created else report.kept).append(dest)
    macros = paths.tracking.suffix.lower() == ".xlsm"  # drive.yaml chose the table with buttons
    created = not paths.tracking.exists() and create_new(
        paths.tracking, _workbook_bytes("tracking", rules, macros=macros)
    )
    (report.created if created else report.kept).append(paths.tracking)
    guide = paths.root / rules.drive.user_guide_file
    (
        report.created
        if create_new(guide, user_guide(paths, rules).encode("utf-8"))
        else report.kept
    ).append(guide)
    return report
