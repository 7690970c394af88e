"""The error catalogue: every problem xietong reports about a submitted workbook.

Each problem type has a stable code (scripts and the feedback workbook rely on it), a severity
and a Chinese message template that tells the submitter how to fix it. ``docs/errors.md``
documents every code; a test keeps the two in step. File-level codes (``E_CORRUPT`` …) describe
a file that could not be read at all; cell-level codes point at one cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ProblemType:
    code: str
    severity: Severity
    title: str  # short Chinese name, shown in tables
    template: str  # Chinese message; {label}, {value}, {cell} and the named params are filled in
    file_level: bool = False  # the file could not be read at all (CLI exit code 2)


_TYPES = [
    # -- the file as a whole ----------------------------------------------------------------
    ProblemType(
        "E_FILE_UNREADABLE",
        "error",
        "文件无法打开",
        "无法打开文件：{detail}。请确认文件已保存并关闭后重新提交。",
        True,
    ),
    ProblemType(
        "E_EMPTY", "error", "空文件", "文件是空的（{detail}）。请使用模板填写后重新保存提交。", True
    ),
    ProblemType(
        "E_CORRUPT",
        "error",
        "文件已损坏",
        "文件已损坏或不是有效的 Excel 工作簿（{detail}）。请用 Excel/WPS 打开后“另存为” .xlsx 再提交。",
        True,
    ),
    ProblemType(
        "E_ENCRYPTED",
        "error",
        "文件已加密",
        "文件设置了打开密码，系统无法读取。请取消密码（文件→信息→保护工作簿）后重新提交。",
        True,
    ),
    ProblemType(
        "E_LEGACY_FORMAT",
        "error",
        "格式不受支持",
        "文件格式不受支持（{detail}）。请用 Excel/WPS 打开后“另存为”Excel 工作簿（.xlsx）再提交。",
        True,
    ),
    ProblemType(
        "E_TOO_LARGE",
        "error",
        "文件过大",
        "文件超出允许的大小（{detail}）。请删除多余的工作表、空行空列或图片后重新提交。",
        True,
    ),
    ProblemType(
        "E_ZIP_BOMB",
        "error",
        "压缩比异常",
        "文件内部压缩比异常（{detail}），疑似恶意文件，已拒绝读取。请使用模板重新填写。",
        True,
    ),
    ProblemType(
        "E_UNSAFE_XML",
        "error",
        "文件内容不安全",
        "文件包含不安全的 XML 结构（{detail}），已拒绝读取。请使用模板重新填写。",
        True,
    ),
    ProblemType(
        "E_READER_CRASH",
        "error",
        "读取失败",
        "读取文件时读取进程异常退出（{detail}），文件可能已损坏。请用 Excel/WPS 打开后“另存为” .xlsx 再提交。",
        True,
    ),
    ProblemType(
        "E_READ_TIMEOUT",
        "error",
        "读取超时",
        "读取文件超过 {seconds} 秒未完成，已中止。请删除多余内容或另存为 .xlsx 后重新提交。",
        True,
    ),
    ProblemType(
        "E_UNKNOWN_WORKBOOK",
        "error",
        "无法识别的工作簿",
        "无法识别这是哪一种协同模板（{detail}）。请从“空白模板”文件夹下载模板填写，不要修改标签文字。",
        True,
    ),
    ProblemType(
        "E_OUTDATED_TEMPLATE",
        "error",
        "模板版本过旧",
        "该文件使用的是旧版模板（版本 {found}，当前版本 {expected}）。请下载最新模板，把内容复制过去后重新提交。",
    ),
    ProblemType(
        "W_TEMPLATE_NEWER",
        "warning",
        "模板版本较新",
        "该文件的模板版本（{found}）比系统规则（{expected}）新，已按当前规则校验。请联系管理员更新规则。",
    ),
    ProblemType(
        "W_MARKER_MISSING",
        "warning",
        "模板标记缺失",
        "文件中没有模板标记（可能是复制到了新工作簿），已按标签识别为“{detail}”。建议使用原模板填写。",
    ),
    ProblemType(
        "W_LEGACY_FORMAT",
        "warning",
        "旧格式文件",
        "文件是 {detail} 格式，已尽量读取，但无法识别其中的公式错误，也不能生成标注副本。建议另存为 .xlsx。",
    ),
    ProblemType(
        "E_MISSING_COLUMN",
        "error",
        "缺少列",
        "表格中找不到“{label}”列。请不要删除或改名模板中的列标题。",
    ),
    # -- one cell ---------------------------------------------------------------------------
    ProblemType("E_REQUIRED", "error", "必填项为空", "“{label}”为必填项，请填写。"),
    ProblemType("E_REQUIRED_IF", "error", "关联项未填", "{reason}：请填写“{label}”。"),
    ProblemType(
        "E_CELL_ERROR",
        "error",
        "单元格错误值",
        "“{label}”显示为错误值 {value}（通常是公式出错）。请改为直接填写正确的值。",
    ),
    ProblemType(
        "E_DATE_FORMAT",
        "error",
        "日期格式错误",
        "“{label}”的值“{value}”不是有效日期。请按 2026-03-10 的格式填写。",
    ),
    ProblemType(
        "E_DATE_RANGE",
        "error",
        "日期不合理",
        "“{label}”的日期 {date} 不在 {min_year}–{max_year} 年之间，请检查年份。",
    ),
    ProblemType(
        "E_DATE_ORDER",
        "error",
        "日期先后错误",
        "“{label}”（{date}）早于“{other_label}”（{other_date}），请检查日期。",
    ),
    ProblemType(
        "E_NOT_WORKDAY",
        "error",
        "非工作日",
        "“{label}”的日期 {date} 不是工作日（周末或法定节假日），请填写工作日。",
    ),
    ProblemType(
        "E_NUMBER_FORMAT",
        "error",
        "数字格式错误",
        "“{label}”的值“{value}”不是有效数字。请只填写数字，如 50000 或 5万元。",
    ),
    ProblemType(
        "E_PERCENT_FORMAT",
        "error",
        "百分比格式错误",
        "“{label}”的值“{value}”不是有效百分比。请填写如 60% 的百分比。",
    ),
    ProblemType(
        "E_OUT_OF_RANGE",
        "error",
        "数值超出范围",
        "“{label}”的值 {value} 超出允许范围（{range}），请检查。",
    ),
    ProblemType(
        "E_NOT_IN_LIST",
        "error",
        "不在可选范围",
        "“{label}”的值“{value}”不在可选范围内{detail}。请从下拉列表中选择。",
    ),
    ProblemType(
        "E_TOO_LONG",
        "error",
        "内容过长",
        "“{label}”最多 {max_length} 个字，当前 {length} 个字，请精简。",
    ),
    ProblemType("E_PATTERN", "error", "格式不符", "“{label}”的值“{value}”格式不正确{detail}。"),
    ProblemType(
        "E_DUPLICATE_ROW",
        "error",
        "重复行",
        "第 {row} 行与第 {first_row} 行内容完全相同，请删除重复的一行。",
    ),
]

CATALOGUE: dict[str, ProblemType] = {t.code: t for t in _TYPES}
FILE_LEVEL_CODES = frozenset(t.code for t in _TYPES if t.file_level)


# Operation errors (``XietongError`` codes, see docs/errors.md "Operation errors") of the
# notifications (issue 12): code → short Chinese title.
OPERATION_ERRORS: dict[str, str] = {
    "E_SECRET_ON_SHARE": "共享盘上发现密码或密钥",
    "E_SECRETS_FILE": "本地密钥文件无法读取",
    "E_NOTIFY_TEMPLATE": "通知模板无法使用",
    "E_NOTIFY_SEND": "通知发送失败",
    "E_NOTIFY_CHANNEL": "未知的通知渠道",
}


class _Blank(dict):
    """Format params: a missing one renders as nothing rather than raising."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a submitted workbook, down to the cell, with a Chinese fix-it message."""

    file: str
    sheet: str
    cell: str  # A1 style; "" for a problem about the whole file
    field: str  # field key; "" for the whole file
    label: str  # Chinese label of the field
    code: str
    severity: Severity
    value: str  # the value as seen in the cell
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def file_level(self) -> bool:
        return self.code in FILE_LEVEL_CODES


def make_problem(
    code: str,
    *,
    file: str = "",
    sheet: str = "",
    cell: str = "",
    field: str = "",
    label: str = "",
    value: object = "",
    **params: object,
) -> Problem:
    """A problem of a catalogued type; ``params`` fill the Chinese message template."""
    ptype = CATALOGUE[code]  # a KeyError here is a programming error: every code is catalogued
    shown = shown_value(value)
    message = ptype.template.format_map(
        _Blank(
            {"label": label, "value": shown, "cell": cell, **{k: str(v) for k, v in params.items()}}
        )
    )
    return Problem(file, sheet, cell, field, label, code, ptype.severity, shown, message)


def shown_value(value: object, limit: int = 200) -> str:
    """A cell value as a person saw it, shortened for messages."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
