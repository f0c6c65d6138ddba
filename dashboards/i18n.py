"""Simplified Chinese and English for the dashboards: the English text is the key (as gettext's msgid).

A dictionary, not gettext catalogues: two languages and a few dozen labels do not need a compile step, and
the keys stay the ones Flask-Babel would extract if the plant ever needs more languages.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes.models import User

LANGUAGES = ("zh", "en")  # the values of users.language
DEFAULT = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

ZH: dict[str, str] = {
    "Dashboards": "看板",
    "Home": "首页",
    "SPC": "统计过程控制",
    "Statistical process control": "统计过程控制",
    "Logged in as": "已登录",
    "Characteristic": "特性",
    "key characteristic": "关键特性",
    "From": "开始日期",
    "To": "结束日期",
    "Show": "显示",
    "No characteristic with numeric limits is configured.": "未配置带数值界限的特性。",
    "No measurements in this range": "此时间范围内没有测量值",
    "Too few measurements for control limits (at least two are needed).":
        "测量值太少，无法计算控制限（至少需要两个）。",
    "Control chart": "控制图",
    "Histogram": "直方图",
    "Capability": "过程能力",
    "Control limits": "控制限",
    "Specification": "规格",
    "Drawing the figure …": "正在绘制图表 …",
    "The figure could not be loaded": "图表无法加载",
    "Download the figure's data as CSV": "下载图表数据 (CSV)",
    "Points breaking a Nelson rule": "违反 Nelson 判异规则的点",
    "Limits from the first %(n)s values of the characteristic's history, then frozen.":
        "控制限由该特性历史上最早的 %(n)s 个测量值计算，之后保持不变。",
    "Times on the plant clock": "时间为工厂当地时间",
    "Values": "测量值个数",
    "Mean": "均值",
    "σ within (MR̄/d₂)": "组内 σ (MR̄/d₂)",
    "σ overall": "整体 σ",
    "Value": "测量值",
    "Subgroup mean": "子组均值",
    "Moving range": "移动极差",
    "Range": "极差",
    "Sample": "样本序号",
    "Count": "频数",
    "Rule violation": "判异点",
    "Rule": "规则",
    "one point beyond 3σ": "1 个点超出 3σ",
    "nine points in a row on one side of the centre line": "连续 9 点落在中心线同一侧",
    "six points in a row steadily increasing or decreasing": "连续 6 点递增或递减",
    "fourteen points in a row alternating up and down": "连续 14 点交替上下",
    "two of three points beyond 2σ on the same side": "连续 3 点中有 2 点落在中心线同一侧 2σ 以外",
    "four of five points beyond 1σ on the same side": "连续 5 点中有 4 点落在中心线同一侧 1σ 以外",
    "fifteen points in a row within 1σ": "连续 15 点落在中心线两侧 1σ 以内",
    "eight points in a row beyond 1σ on either side": "连续 8 点落在中心线两侧且无一在 1σ 以内",
    # The machine page and the unit traveler (dashboards.machine_pages, traveler_pages, machine_figures).
    "Machine": "设备",
    "Positions": "工位数",
    "Endpoint health": "通信端点状态",
    "Connection": "连接",
    "connected": "已连接",
    "disconnected": "已断开",
    "Last value": "最后数据",
    "Spool": "缓存队列",
    "Clock offset": "时钟偏差",
    "Reported": "上报时间",
    "Error": "错误",
    "No adapter has reported on this endpoint yet.": "尚无适配器上报此端点的状态。",
    "Live trend": "实时趋势",
    "last %(n)s minutes": "最近 %(n)s 分钟",
    "Trend over the range": "所选时间范围内的趋势",
    "State timeline": "状态时间线",
    "Time in state": "各状态时长",
    "No state recorded in this range": "此时间范围内没有状态记录",
    "Units processed": "加工的产品",
    "The newest %(n)s are listed; the CSV has them all.": "仅列出最近的 %(n)s 条；CSV 中包含全部记录。",
    "Serial": "序列号",
    "Step": "工序",
    "Started": "开始时间",
    "Ended": "结束时间",
    "Result": "结果",
    "rework": "返工",
    "run": "批次",
    "No step ran on this machine in this range.": "此时间范围内该设备没有执行工序。",
    "Telemetry gaps": "数据采集中断",
    "Telemetry gap": "数据中断",
    "Reason": "原因",
    "Samples read back": "回补的采样数",
    "still open": "尚未恢复",
    "No gap in the telemetry in this range.": "此时间范围内数据采集没有中断。",
    "State": "状态",
    "No telemetry in this range": "此时间范围内没有遥测数据",
    "This machine has no numeric process values": "该设备没有数值型过程参数",
    "Minimum": "最小值",
    "Maximum": "最大值",
    "Lower limit": "下限",
    "Upper limit": "上限",
    "Unit traveler": "产品履历",
    "Work order": "工单",
    "Routing revision": "工艺路线版本",
    "Status": "状态",
    "on hold": "已冻结",
    "First pass": "一次通过",
    "yes": "是",
    "no": "否",
    "Satellite": "卫星",
    "Built into": "装入",
    "Printable as-built record": "可打印的竣工记录",
    "Final acceptance": "最终验收",
    "not accepted": "未验收",
    "Station": "工位",
    "People": "操作人员",
    "Inspection buy-off": "检验确认",
    "outstanding": "待确认",
    "not required": "不需要",
    "Signature content hash (SHA-256)": "签名内容哈希 (SHA-256)",
    "Nominal": "名义值",
    "Lower": "下限",
    "Upper": "上限",
    "Source": "来源",
    "Instrument": "量具",
    "Deviation": "偏离单",
    "pass": "合格",
    "fail": "不合格",
    "voided": "已作废",
    "Process values on %(machine)s during this step": "本工序期间 %(machine)s 的过程参数",
    "No step has been started.": "尚未开始任何工序。",
    "Nonconformances (NCRs)": "不合格品报告 (NCR)",
    "Defect": "缺陷",
    "Description": "描述",
    "Opened": "开立时间",
    "Disposition": "处置",
    "Signed": "签名",
    "No nonconformances.": "没有不合格品报告。",
    "Deviations and waivers": "偏离与让步",
    # Values shown as they are stored: PackML states (ISA-TR88.00.02), results, statuses, gap reasons, sources.
    "Undefined": "未定义", "Clearing": "清除中", "Stopped": "已停止", "Starting": "启动中", "Idle": "空闲",
    "Suspended": "已挂起", "Execute": "执行", "Stopping": "停止中", "Aborting": "中止中", "Aborted": "已中止",
    "Holding": "保持中", "Held": "已保持", "Unholding": "解除保持中", "Suspending": "挂起中",
    "Unsuspending": "解除挂起中", "Resetting": "复位中", "Completing": "完成中", "Complete": "已完成",
    "running": "进行中", "paused": "已暂停", "passed": "合格", "failed": "不合格", "aborted": "已中止",
    "in_work": "在制", "ready": "待验收", "accepted": "已验收", "scrapped": "已报废",
    "open": "未关闭", "awaiting_mrb": "待 MRB 评审", "closed": "已关闭",
    "spool_full": "缓存已满", "adapter_restart": "适配器重启", "manual": "手工录入",
    "machine": "设备采集",
    # The plant board and the line page (dashboards.board_pages, line_pages, line_figures).
    "Plant board": "全厂看板",
    "Lines": "产线",
    "Line": "产线",
    "No connection to the MES: the board shows the data as of its time stamp.":
        "与 MES 的连接中断：看板显示的是时间戳所示时刻的数据。",
    "Redrawn every %(n)s seconds.": "每 %(n)s 秒刷新一次。",
    "Held alarms after %(n)s minutes.": "设备保持超过 %(n)s 分钟即报警。",
    "%(h)d h %(m)02d min": "%(h)d 小时 %(m)02d 分",
    "%(m)d min": "%(m)d 分钟",
    "adapter": "采集适配器",
    "since": "自",
    "Held for": "已保持",
    "in-step excursion": "工序中参数超限",
    "telemetry gap": "数据采集中断",
    "spool": "缓存队列",
    "clock off by": "时钟偏差",
    "no report": "无上报",
    "silent": "无响应",
    "accepted today": "今日验收",
    "open NCRs": "未关闭不合格报告",
    "alarms": "报警",
    "Accepted": "今日验收",
    "FPY today": "今日FPY",
    "FPY week": "本周FPY",
    "OEE today": "今日OEE",
    "NCRs open": "未关NCR",
    "no state": "无状态",
    "Parts today: good / reject": "今日产量：合格 / 不合格",
    "%(n)s more alarms": "另有 %(n)s 条报警",
    "First-pass and rolled throughput yield by week": "每周一次合格率与流通合格率",
    "First-pass yield by step": "各工序一次合格率",
    "Defect Pareto": "缺陷帕累托图",
    "WIP now and queue time by step": "各工序当前在制品与排队时间",
    "OEE by machine": "各设备 OEE",
    "Downtime Pareto": "停机帕累托图",
    "No data in this range": "此时间范围内没有数据",
    "First-pass yield": "一次合格率",
    "Rolled throughput yield": "流通合格率",
    "ISO week": "ISO 周",
    "Cumulative %": "累计百分比",
    "NCRs": "不合格报告数",
    "Hours": "小时",
    "In the step": "工序中",
    "Waiting": "等待中",
    "Queue time, median": "排队时间中位数",
    "Queue time, 90th percentile": "排队时间第 90 百分位",
    "Units": "产品数",
    "Availability": "可用率",
    "Performance": "性能率",
    "Quality": "质量率",
}


def translator(language: str) -> Callable[[str], str]:
    """`_` for `language`: English returns the key, Chinese its entry (the key itself if one is missing)."""
    if language == "en":
        return lambda text: text
    return lambda text: ZH.get(text, text)


def choose(requested: str | None, user_language: str | None, browser: str | None) -> str:
    """The page's language: the `lang` parameter, else the user's setting, else the browser's, else Chinese."""
    for candidate in (requested, user_language, browser):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT


def user_language(session: Session, user_id: int) -> str | None:
    return session.scalar(select(User.language).where(User.id == user_id))
