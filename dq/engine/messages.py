"""Engine messages that can be read in Chinese or English.

A check's detail message (``RuleResult.message``) is a :class:`Message`: a ``str`` whose value is
the English text, as before (``dq audit``, JSON output and logs are unchanged), which also carries
its key in :data:`TEMPLATES` and the fields that fill it. The store keeps ``key`` and fields as
JSON beside the text (:func:`message_args`), and a report renders the message in its own
language with :func:`render_message`.

Fields are numbers, text, lists (joined with ", " / "、"; a field named ``parts`` or ``items``
with "; " / "；") or other messages (rendered in the same language). A field named ``method`` holds a
history method's name and is translated with :data:`TERMS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["TEMPLATES", "TERMS", "Message", "message", "message_args", "render_args", "render_message"]

TEMPLATES: dict[str, dict[str, str]] = {
    # columns_present
    "columns.missing": {"en": "missing: {columns}", "zh": "缺少列：{columns}"},
    "columns.wrong_type": {"en": "wrong type: {columns}", "zh": "类型不符：{columns}"},
    "columns.type": {
        "en": "{column} ({got}, expected {expected})",
        "zh": "{column}（为 {got}，应为 {expected}）",
    },
    "columns.problems": {"en": "{parts}", "zh": "{parts}"},
    "columns.all_present": {"en": "all {n} columns present", "zh": "{n} 列均存在"},
    # row_count
    "row_count": {"en": "{rows} rows (expected {low}..{high})", "zh": "{rows} 行（应为 {low}..{high} 行）"},
    # row_totals
    "row_totals.differs": {
        "en": "{label} row differs from the sum of rows: {parts}",
        "zh": "{label}行与各行之和不符：{parts}",
    },
    "row_totals.column": {
        "en": "{column}: stated {stated}, computed {computed}",
        "zh": "{column}：合计行为 {stated}，各行之和为 {computed}",
    },
    "row_totals.equal": {
        "en": "{label} row equals the sum of rows in {n} column(s)",
        "zh": "{label}行与各行之和一致（{n} 列）",
    },
    # upload_days
    "upload_days.all": {"en": "uploads on all {total} days", "zh": "全部 {total} 天均有上传"},
    "upload_days.missing": {
        "en": "uploads on {days} of {total} days; no upload on day(s) {missing}",
        "zh": "{total} 天中有 {days} 天有上传；无上传的日期：{missing} 日",
    },
    # history_change
    "history.outside": {
        "en": "{metric} = {value} outside expected [{low}, {high}] ({method} over {used}{note})",
        "zh": "{metric} = {value}，超出预期范围 [{low}, {high}]（{method}，依据 {used}{note}）",
    },
    "history.within": {
        "en": "{metric} = {value} within expected [{low}, {high}] ({method} over {used}{note})",
        "zh": "{metric} = {value}，在预期范围 [{low}, {high}] 内（{method}，依据 {used}{note}）",
    },
    "history.note": {"en": "; {note}", "zh": "；{note}"},
    "history.not_applicable": {"en": "{metric}: {note}", "zh": "{metric}：{note}"},
    "history.too_short": {
        "en": "not applicable: {n} earlier period(s) stored, {need} needed",
        "zh": "不适用：已存 {n} 个更早的月份，需要 {need} 个",
    },
    "history.change": {"en": "change {change} from {period}", "zh": "较 {period} 变化 {change}"},
    "history.from_zero": {"en": "from 0 in {period}", "zh": "{period} 为 0"},
    "history.seasonal": {
        "en": "seasonal effect {effect} from {period}",
        "zh": "季节效应 {effect}（依据 {period}）",
    },
    "history.no_reference": {
        "en": "{period} not stored: robust_z",
        "zh": "未存 {period} 的数据：改用稳健 z 值",
    },
    "history.flagged": {"en": "{items}{more}", "zh": "{items}{more}"},
    "history.more": {"en": "; and {n} more", "zh": "；另有 {n} 项"},
    "history.all_within": {
        "en": "{n} metrics within their expected ranges ({first}..{last})",
        "zh": "{n} 项指标均在预期范围内（{first}..{last}）",
    },
    "history.no_metric": {"en": "no metric {pattern} this period", "zh": "本期没有指标 {pattern}"},
    "history.no_summary": {
        "en": "no submission summary to decide its condition",
        "zh": "没有上报情况汇总，无法判断适用条件",
    },
    "history.no_rows": {"en": "no rows to evaluate", "zh": "没有可评估的数据"},
    "history.deferred": {
        "en": "judged against the unit's earlier periods in the score store (dq score)",
        "zh": "需与本单位历史各期比较，月度评分时评估",
    },
}

# Names inside messages that have a reading in each language.
TERMS: dict[str, dict[str, str]] = {
    "zh": {"robust_z": "稳健 z 值", "pct_change": "环比", "seasonal": "季节调整"},
    "en": {},
}

# Fixed texts of the engine itself (not a check's): shown as they are in English.
_ENGINE_TEXTS = {
    "table is empty": "表为空",
    "no rows to evaluate": "没有可评估的数据",
}
_SEP = {"en": ", ", "zh": "、"}
_MSG_SEP = {"en": "; ", "zh": "；"}


class Message(str):
    """An engine message: the English text, with the key and fields to render it in any language."""

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, **fields: Any) -> Message:
        if key not in TEMPLATES:
            raise KeyError(f"no message template {key!r}")
        obj = super().__new__(cls, _render(key, fields, "en"))
        obj.key = key
        obj.fields = fields
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (Dask workers) and deep-copied as a Message
        return (_rebuild, (self.key, self.fields))

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "fields": {k: _plain(v) for k, v in self.fields.items()}}

    def render(self, lang: str) -> str:
        return _render(self.key, self.fields, lang)


def _rebuild(key: str, fields: dict[str, Any]) -> Message:
    return Message(key, **fields)


def message(key: str, **fields: Any) -> Message:
    """The message ``key`` of :data:`TEMPLATES` filled with ``fields`` (its text is the English)."""
    return Message(key, **fields)


def _plain(v: Any) -> Any:
    if isinstance(v, Message):
        return {"key": v.key, "fields": {k: _plain(x) for k, x in v.fields.items()}}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _value(v: Any, lang: str, name: str = "") -> str:
    if isinstance(v, Message):
        return v.render(lang)
    if isinstance(v, Mapping) and "key" in v:
        return _render(str(v["key"]), v.get("fields") or {}, lang)
    if isinstance(v, list | tuple):
        return (_MSG_SEP if name in ("parts", "items") else _SEP)[lang].join(_value(x, lang) for x in v)
    if name == "method":
        return TERMS.get(lang, {}).get(str(v), str(v))
    return "" if v is None else str(v)


def _render(key: str, fields: Mapping[str, Any], lang: str) -> str:
    template = TEMPLATES[key].get(lang) or TEMPLATES[key]["en"]
    return template.format(**{k: _value(v, lang, k) for k, v in fields.items()})


def message_args(text: Any) -> str | None:
    """The JSON the store keeps beside a message (``None`` for plain text)."""
    if isinstance(text, Message):
        return json.dumps(text.to_dict(), ensure_ascii=False, default=str)
    return None


def render_args(args: str | None, lang: str) -> str | None:
    """A stored message's JSON rendered in ``lang``; ``None`` if there is none or it cannot be read
    (an unknown key from another version, broken JSON)."""
    if not args:
        return None
    try:
        d = json.loads(args)
        return _render(str(d["key"]), d.get("fields") or {}, lang)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def render_message(text: str | None, args: str | None, lang: str) -> str:
    """A stored engine message in ``lang``: from its key and fields when the store has them, the
    engine's own fixed texts from a table, else the text as stored."""
    text = str(text or "")
    rendered = render_args(args, lang)
    if rendered is not None:
        return rendered
    if lang == "zh" and text in _ENGINE_TEXTS:
        return _ENGINE_TEXTS[text]
    return text
