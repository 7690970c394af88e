"""xietong (协同): cross-department coordination on the Excel workbooks of a shared drive.

Layout of the package:

- ``automation.rules``: loading and validating ``rules/*.yaml`` into typed records.
- ``automation.core``: the pure core (calendar, clocks, validation, rollup, summary model).
- ``automation.io``: the I/O boundary (reading, generating and patching workbooks, the drive,
  locks, the ledger, mail).
- ``automation.cli``: the ``xietong`` command line, a thin layer over ``automation.api``.
"""

__version__ = "0.1.0"
