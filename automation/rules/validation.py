"""validation.yaml: limits that protect the reader from huge or hostile files, and input plausibility.

A submitted workbook is checked against these limits before any parser sees it, and parsed in a
worker process bounded by ``worker_timeout_seconds`` and ``worker_memory_mb``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from automation.rules.base import Strict


class ValidationRules(Strict):
    max_file_mb: float = Field(default=50, gt=0)  # size of the file on disk
    max_uncompressed_mb: float = Field(default=500, gt=0)  # sum of every zip entry, unpacked
    max_entries: int = Field(default=2000, ge=10)  # zip entries (parts) in one workbook
    max_ratio: float = Field(default=200, gt=1)  # unpacked/packed size of one entry …
    ratio_min_mb: float = Field(default=5, ge=0)  # … checked for entries larger than this
    max_rows: int = Field(default=200_000, ge=100)  # rows of one sheet
    max_columns: int = Field(default=500, ge=10)  # columns of one sheet
    max_cells: int = Field(default=5_000_000, ge=1000)  # rows x columns of one sheet
    max_shared_strings: int = Field(default=2_000_000, ge=1000)
    worker_timeout_seconds: float = Field(default=60, gt=0)
    worker_memory_mb: int = Field(default=2048, ge=256)
    date_min_year: int = Field(default=2000, ge=1900)  # a date outside these years is a typo
    date_max_year: int = Field(default=2099, le=9999)

    @model_validator(mode="after")
    def _years_ordered(self) -> ValidationRules:
        if self.date_min_year > self.date_max_year:
            raise ValueError("date_min_year is after date_max_year")
        return self
