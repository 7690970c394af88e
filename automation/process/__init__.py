"""The coordination process (跨部门工作协调), one module per stage of the standard.

A stranger looking for a stage finds it by name here:

| stage | module |
|---|---|
| 需求发起 / 接收登记 (intake, registration) | ``intake`` |
| 接收评估 (evaluation: item workbooks, approval route) | ``evaluation`` |
| the tracking table 跟踪表 (the office's model of every item) | ``tracking`` |
| 时限 (inputs of the clock engine read from the drive) | ``clocks`` |
| 执行反馈 (daily rows, weekly rollup, exceptions) | ``execution`` |
| 汇总 (the leaders' summary) | ``summary`` |
| 结果归档 (acceptance checklist, archive) | ``archive`` |
| 通知 (notifications) | ``notify`` |
| one full cycle of all of them | ``cycle`` |

Every module here works on one :class:`automation.process.context.RunContext`; the pure rules
of each stage live in ``automation.core`` and the file primitives in ``automation.io``. Nothing
in ``core`` or ``io`` imports from this package.
"""
