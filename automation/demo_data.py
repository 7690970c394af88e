"""The demo's sample year: requests as departments fill them, and what happens to each.

Plain data, no logic: ``automation.demo`` plays it on a drive. Dates are in 2026, around the
National Day holiday (2026-10-01..07, makeup working days 2026-09-20 and 2026-10-10).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

D = dt.date


@dataclass(frozen=True)
class SampleRequest:
    """One request form dropped into the inbox on ``submitted`` (its story in ``events``)."""

    name: str  # file name in the inbox
    submitted: dt.date
    values: dict[str, Any]
    note: str  # what the demo shows with it
    office: list[tuple[dt.date, dict[str, Any]]] = field(default_factory=list)  # tracking edits
    execution: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)  # dept → rows span
    plans: dict[str, dt.date] = field(default_factory=dict)  # dept → plan submitted


def _base(dept: str, requester: str, title: str, **extra: Any) -> dict[str, Any]:
    values = {
        "requesting_dept": dept,
        "requester": requester,
        "contact": "分机 " + str(8000 + len(title) * 7),
        "collab_type": "跨部门项目",
        "urgency": "一般",
        "title": title,
        "goal": f"完成“{title}”，按期交付预期成果。",
        "task_content": "明确各部门分工，制定实施方案，按里程碑推进并每日更新进度。",
        "milestones": "第1周完成方案初稿；第2周完成评审；第4周完成实施。",
        "expected_results": "形成可执行的总体方案并按期完成，输出总结报告。",
        "is_major": "否",
        "dept_head": requester + "（部门负责人）",
    }
    values.update(extra)
    return values


SAMPLE_REQUESTS: list[SampleRequest] = [
    SampleRequest(
        name="市场部_智联系列新品上市推广.xlsx",
        submitted=D(2026, 8, 31),
        note="重大事项，全流程：评估、协调会、纪要、部门方案、总体方案、审批、执行（跨国庆）",
        values=_base(
            "市场部",
            "张伟",
            "智联系列新品上市推广",
            request_date=D(2026, 8, 31),
            expected_start=D(2026, 9, 21),
            expected_finish=D(2026, 11, 30),
            suggested_depts="研发部、生产部、销售部",
            budget_amount="50万元",
            budget_account="市场推广费",
            funding_source="专项预算",
            is_major="是",
            major_reason="新品上市涉及重大市场投入",
            sign_date=D(2026, 8, 31),
            collab_type="跨部门项目",
            urgency="紧急",
        ),
        office=[
            (
                D(2026, 9, 2),
                {
                    "evaluation_result": "通过",
                    "evaluation_date": D(2026, 9, 2),
                    "lead_dept": "市场部",
                    "coop_depts": "研发部、生产部、销售部",
                    "evaluation_opinion": "符合年度重点产品规划",
                },
            ),
            (D(2026, 9, 4), {"meeting_date": D(2026, 9, 4)}),
            (D(2026, 9, 7), {"minutes_date": D(2026, 9, 7)}),
            (D(2026, 9, 14), {"plan_date": D(2026, 9, 14)}),
            (D(2026, 9, 18), {"approval_result": "通过", "approval_date": D(2026, 9, 18)}),
        ],
        plans={"研发部": D(2026, 9, 9), "生产部": D(2026, 9, 10), "销售部": D(2026, 9, 10)},
        # 研发部 and 销售部 start on the makeup Sunday 2026-09-20; 生产部 misses it
        execution={
            "研发部": (D(2026, 9, 20), D(2026, 10, 30)),
            "生产部": (D(2026, 9, 21), D(2026, 10, 30)),
            "销售部": (D(2026, 9, 20), D(2026, 10, 30)),
        },
    ),
    SampleRequest(
        name="客服部_重点客户投诉联合处理.xlsx",
        submitted=D(2026, 9, 1),
        note="应急事务，评估不通过后修改重新提交（同一事项的第 2 版）",
        values=_base(
            "客户服务部",
            "周敏",
            "重点客户投诉联合处理",
            collab_type="应急事务处理",
            urgency="特急",
            request_date="2026/9/1",
            expected_start="2026/9/2",
            expected_finish="2026/9/30",
            suggested_depts="产品部、销售部",
            sign_date="2026/9/1",
        ),
        office=[
            (
                D(2026, 9, 2),
                {
                    "evaluation_result": "不通过",
                    "evaluation_date": D(2026, 9, 2),
                    "evaluation_opinion": "未说明投诉涉及的法律风险，请补充法务部并重新提交",
                },
            ),
        ],
    ),
    SampleRequest(
        name="客服部_重点客户投诉联合处理_修改版.xlsx",
        submitted=D(2026, 9, 3),
        note="修改后重新提交：登记为同一编号的新版次",
        values=_base(
            "客服部",
            "周敏",
            "重点客户投诉联合处理",
            collab_type="应急事务处理",
            urgency="特急",
            request_date="2026年9月3日",
            expected_start="2026.9.4",
            expected_finish="2026.9.30",
            suggested_depts="产品部、销售部、法务部",
            sign_date="2026年9月3日",
            task_content="产品部分析问题原因，销售部对接客户，法务部评估法律风险并出具意见。",
        ),
        office=[
            (
                D(2026, 9, 4),
                {
                    "evaluation_result": "通过",
                    "evaluation_date": D(2026, 9, 4),
                    "lead_dept": "客服部",
                    "coop_depts": "产品部、销售部、法务部",
                },
            ),
            (D(2026, 9, 7), {"meeting_date": D(2026, 9, 7)}),
            (D(2026, 9, 10), {"minutes_date": D(2026, 9, 10)}),
        ],
        plans={"产品部": D(2026, 9, 14), "销售部": D(2026, 9, 15)},
    ),
    SampleRequest(
        name="财务部_2027年度预算编制.xlsx",
        submitted=D(2026, 9, 14),
        note="业务流程衔接：评估通过，协调会超期未开",
        values=_base(
            "财务部",
            "陈静",
            "2027年度预算编制",
            collab_type="业务流程衔接",
            request_date=D(2026, 9, 14),
            expected_start=D(2026, 9, 21),
            expected_finish=D(2026, 12, 15),
            suggested_depts="市场部、研发部、生产部、销售部",
        )
        | {"sign_date": D(2026, 9, 14)},
        office=[
            (
                D(2026, 9, 16),
                {
                    "evaluation_result": "通过",
                    "evaluation_date": D(2026, 9, 16),
                    "lead_dept": "财务部",
                    "coop_depts": "市场部、研发部、生产部、销售部",
                },
            ),
        ],
    ),
    SampleRequest(
        name="行政部_行业峰会筹备.xlsx",
        submitted=D(2026, 9, 28),
        note="资源调配（预算、场地）：登记后等待评估，评估时限跨国庆假期",
        values=_base(
            "行政部",
            "王芳",
            "2026行业峰会筹备",
            collab_type="资源共享与调配",
            request_date=D(2026, 9, 28),
            expected_start=D(2026, 10, 12),
            expected_finish=D(2026, 11, 20),
            suggested_depts="市场部、IT部、后勤部",
            budget_amount="80,000",
            budget_account="会议费",
            funding_source="部门年度预算",
            resource_venue="国际会议中心主会场",
            resource_equipment="同传设备",
            sign_date=D(2026, 9, 28),
        ),
    ),
    SampleRequest(
        name="生产部_订单与生产计划协同.xlsx",
        submitted=D(2026, 8, 17),
        note="已完成执行，等待验收归档",
        values=_base(
            "生产部",
            "赵磊",
            "销售订单与生产计划协同优化",
            collab_type="业务流程衔接",
            request_date=D(2026, 8, 17),
            expected_start=D(2026, 8, 24),
            expected_finish=D(2026, 10, 16),
            suggested_depts="销售部、IT部",
            sign_date=D(2026, 8, 17),
        ),
        office=[
            (
                D(2026, 8, 18),
                {
                    "evaluation_result": "通过",
                    "evaluation_date": D(2026, 8, 18),
                    "lead_dept": "生产部",
                    "coop_depts": "销售部、IT部",
                },
            ),
            (D(2026, 8, 20), {"meeting_date": D(2026, 8, 20)}),
            (D(2026, 8, 21), {"minutes_date": D(2026, 8, 21)}),
            (D(2026, 8, 28), {"plan_date": D(2026, 8, 28)}),
            (D(2026, 9, 2), {"approval_result": "通过", "approval_date": D(2026, 9, 2)}),
            (D(2026, 10, 16), {"completion_date": D(2026, 10, 16)}),
        ],
        plans={"销售部": D(2026, 8, 25), "IT部": D(2026, 8, 26)},
        execution={
            "销售部": (D(2026, 9, 3), D(2026, 10, 16)),
            "IT部": (D(2026, 9, 3), D(2026, 10, 16)),
        },
    ),
    SampleRequest(
        name="研发部_测试设备共享.xlsx",
        submitted=D(2026, 10, 9),
        note="节后提交：总体方案已报批，等待审批",
        values=_base(
            "技术研发部",
            "刘洋",
            "环境试验设备共享使用",
            collab_type="资源共享与调配",
            request_date="10月9日",
            expected_start="10月12日",
            expected_finish="11月30日",
            suggested_depts="生产部",
            resource_equipment="高低温试验箱 2 台",
            sign_date="10月9日",
        ),
        office=[
            (
                D(2026, 10, 10),
                {
                    "evaluation_result": "通过",
                    "evaluation_date": D(2026, 10, 10),
                    "lead_dept": "研发部",
                    "coop_depts": "生产部",
                },
            ),
            (D(2026, 10, 12), {"meeting_date": D(2026, 10, 12)}),
            (D(2026, 10, 13), {"minutes_date": D(2026, 10, 13)}),
            (D(2026, 10, 19), {"plan_date": D(2026, 10, 19)}),
        ],
        plans={"生产部": D(2026, 10, 15)},
    ),
    SampleRequest(
        name="销售部_渠道数据对接.xlsx",
        submitted=D(2026, 10, 19),
        note="刚提交：登记时限运行中",
        values=_base(
            "销售部",
            "孙丽",
            "渠道铺货数据对接",
            collab_type="业务流程衔接",
            request_date=D(2026, 10, 19),
            expected_start=D(2026, 10, 26),
            expected_finish=D(2026, 12, 31),
            suggested_depts="IT部、市场部",
            sign_date=D(2026, 10, 19),
        ),
    ),
    SampleRequest(
        name="市场营销部_品牌活动.xlsx",
        submitted=D(2026, 9, 8),
        note="有错误：缺事项名称，填了预算却没有预算科目和资金来源 → 不登记，校验反馈指出单元格",
        values=_base(
            "市场营销部",
            "李娜",
            "",
            request_date=D(2026, 9, 8),
            expected_start=D(2026, 9, 15),
            expected_finish=D(2026, 10, 30),
            suggested_depts="销售部",
            budget_amount="12000元",
            sign_date=D(2026, 9, 8),
        ),
    ),
    SampleRequest(
        name="人力资源部_入职流程优化.xlsx",
        submitted=D(2026, 9, 9),
        note="有错误：未知部门“宣传部”，完成日期早于开始日期",
        values=_base(
            "人力资源部",
            "高宁",
            "新员工入职流程优化",
            request_date="2026-09-09",
            expected_start="2026-10-15",
            expected_finish="2026-09-30",
            suggested_depts="IT部、宣传部",
            sign_date="2026-09-09",
        ),
    ),
    SampleRequest(
        name="后勤部_园区安全改造.xlsx",
        submitted=D(2026, 9, 10),
        note="有错误：标为重大事项却未说明原因，日期写成“下周一”",
        values=_base(
            "后勤部",
            "何军",
            "园区安全设施改造",
            request_date=D(2026, 9, 10),
            expected_start="下周一",
            expected_finish=D(2026, 12, 31),
            suggested_depts="行政部、财务部",
            is_major="是",
            sign_date=D(2026, 9, 10),
        ),
    ),
]

# Execution rows: what a department writes each working day (cycled through).
TASKS = ["需求梳理", "方案设计", "样品准备", "渠道沟通", "测试验证", "问题整改", "阶段评审"]
PROBLEMS = {3: "供应商交期推迟两天", 8: "测试环境不足，需要IT部协调"}
SKIPPED_DAYS = {D(2026, 10, 10), D(2026, 9, 30)}  # the makeup Saturday and the eve of the holiday
# Weekly reports (周进度报告) a department did not hand in: (department, ISO week)
MISSED_WEEKS = {("生产部", "2026-W41"), ("IT部", "2026-W38")}
