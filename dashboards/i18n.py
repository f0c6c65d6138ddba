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
