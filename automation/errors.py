"""The one error type of xietong operations.

Every failure a user can cause (bad rules, an unreadable file, a missing drive) is raised as a
:class:`XietongError` with a stable ``code``; the CLI prints it without a traceback and exits
with ``exit_code``. Validation problems inside a workbook are not exceptions: they are
``Problem`` records (see ``automation.core.problems``).
"""

from __future__ import annotations


class XietongError(Exception):
    """An expected failure with a stable code and a message a person can act on."""

    code: str = "E_XIETONG"
    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class RulesError(XietongError):
    """A rules file is missing, unreadable or does not follow the schema (exit code 2)."""

    code = "E_RULES"
    exit_code = 2

    def __init__(self, file: str, key: str, problem: str):
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")
