"""The error catalogue: every problem xietong reports about a submitted workbook.

Each problem type has a stable code (scripts and the feedback workbook rely on it), a severity
and a Chinese message template that tells the submitter how to fix it. ``docs/errors.md``
documents every code; a test keeps the two in step. File-level codes (``E_CORRUPT`` …) describe
a file that could not be read at all; cell-level codes point at one cell. Operation errors
(:data:`OPERATION_ERRORS`: a command that cannot do its work) are catalogued here too.
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
    # -- archived items (结果归档, ``xietong archive --verify``): ``file`` is the file in the bag
    ProblemType(
        "E_ARCHIVE_CHANGED",
        "error",
        "归档文件被改动",
        "归档后该文件的内容被改动（{algorithm} 校验值不符）。请从备份恢复原文件，不要修改归档内容。",
    ),
    ProblemType(
        "E_ARCHIVE_MISSING",
        "error",
        "归档文件缺失",
        "归档清单中的文件已不存在。请从备份恢复，不要删除归档内容。",
    ),
    ProblemType(
        "E_ARCHIVE_EXTRA",
        "error",
        "归档中多出文件",
        "该文件是归档后放入的，不在归档清单中。请移出归档文件夹。",
    ),
    ProblemType(
        "E_ARCHIVE_INVALID",
        "error",
        "归档包无效",
        "归档包结构不完整或校验失败（{detail}）。请从备份恢复整个归档文件夹。",
    ),
]

CATALOGUE: dict[str, ProblemType] = {t.code: t for t in _TYPES}
FILE_LEVEL_CODES = frozenset(t.code for t in _TYPES if t.file_level)


@dataclass(frozen=True)
class OperationError:
    """A command that cannot do its work (命令错误): code, exit status, short Chinese title."""

    code: str
    exit_code: int
    title: str


# Operation errors: raised as XietongError (automation.errors), printed as one line by the CLI.
# Every code raised anywhere in automation/ is either here or in CATALOGUE (a test greps them).
_OPERATIONS = [
    OperationError("E_XIETONG", 1, "操作失败（未细分的错误）"),
    OperationError("E_RULES", 2, "规则文件有误"),
    OperationError("E_UNKNOWN_KIND", 2, "未知的表单类型"),
    OperationError("E_NO_DRIVE", 2, "不是协同共享盘"),
    OperationError("E_NO_TRACKING", 2, "找不到跟踪表"),
    OperationError("E_NOT_TRACKING", 2, "跟踪表无法识别"),
    OperationError("E_UNKNOWN_ITEM", 2, "未知的事项编号"),
    OperationError("E_BAD_DATE", 2, "日期无法识别"),
    OperationError("E_BAD_WEEK", 2, "周次无法识别"),
    OperationError("E_BAD_NUMBER", 2, "数字无法识别"),
    OperationError("E_AS_OF_RANGE", 2, "时点超出支持范围"),
    OperationError("E_BAD_ITEM_ID", 2, "事项编号不符合规则"),
    OperationError("E_LINK", 2, "链接文件不被读取"),
    OperationError("E_CALENDAR", 2, "工作日历无法使用"),
    OperationError("E_DEMO_EXISTS", 2, "演示目录已被占用"),
    OperationError("E_FILE_SYSTEM", 2, "文件系统拒绝操作"),
    OperationError("E_STATE_DB", 2, "本地状态库无法打开"),
    OperationError("E_WRITE_FAILED", 1, "文件写入失败"),
    OperationError("E_DEFERRED_LOCKED", 3, "文件被打开，写入已推迟"),
    OperationError("E_DEFERRED_CHANGED", 3, "文件已被修改，写入已推迟"),
    OperationError("E_PATCH", 1, "工作簿无法修补"),
    OperationError("E_PATCH_FORMAT", 1, "工作簿结构无法识别"),
    OperationError("E_PATCH_SHEET", 1, "找不到可写入的工作表"),
    OperationError("E_PATCH_CELL", 1, "单元格无法写入"),
    OperationError("E_PATCH_FORMULA", 1, "单元格含公式"),
    OperationError("E_PATCH_UNSUPPORTED", 1, "工作簿格式不支持修补"),
    OperationError("E_PATCH_TABLE", 1, "表格无法扩展"),
    OperationError("E_NOT_OWNED", 1, "写入了非自动列（程序错误）"),
    OperationError("E_BUSY", 4, "共享盘被其他进程占用"),
    OperationError("E_SERVICE_RUNNING", 4, "监视服务已在运行"),
    OperationError("E_NOT_WEEKLY", 2, "周进度报告无法识别"),
    OperationError("E_ARCHIVE_DEFERRED", 3, "归档已推迟（文件被打开）"),
    OperationError("E_ARCHIVE_NO_FOLDER", 1, "找不到事项文件夹或归档包"),
    OperationError("E_SUBMIT_FILE", 2, "提交的文件不是工作簿"),
    OperationError("E_SUBMIT_KIND", 2, "提交的不是申请表"),
    OperationError("E_SUBMIT_NAME", 2, "收件箱中同名文件过多"),
    OperationError("E_BUTTON_NO_DRIVE", 2, "找不到共享盘"),
    OperationError("E_BUTTON_UNAVAILABLE", 2, "按钮功能不可用"),
    OperationError("E_SECRET_ON_SHARE", 2, "共享盘上发现密码或密钥"),
    OperationError("E_SECRETS_FILE", 2, "本地密钥文件无法读取"),
    OperationError("E_NOTIFY_TEMPLATE", 2, "通知模板无法使用"),
    OperationError("E_NOTIFY_SEND", 1, "通知发送失败"),
    OperationError("E_NOTIFY_CHANNEL", 2, "未知的通知渠道"),
    OperationError("E_INTERNAL", 3, "程序错误"),
]
OPERATION_ERRORS: dict[str, OperationError] = {e.code: e for e in _OPERATIONS}


def is_catalogued(code: str) -> bool:
    """A code of the catalogue: a validation problem or an operation error."""
    return code in CATALOGUE or code in OPERATION_ERRORS


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
