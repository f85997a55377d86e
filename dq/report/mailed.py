"""The unit report as e-mailed: links that work when the attachments are saved side by side.

A unit report on the web server links its rows-to-fix files by their names beside it
(``H008_fix.csv``) and the month's index (``index.html``). ``dq send`` attaches the report and
those files under names that carry the month (:func:`mail_name`: ``dq_2020-09_H008_fix.csv``),
and does not attach the index. :func:`mailed_report` rewrites the report's links to match:
a link to an attached file points at the attachment's own name, a link to anything not attached
(the index, a file left out) is removed with its arrow, and in-page links (``#rule-…``) stay.

    >>> mail_name("2020-09", "H008_fix.csv")
    'dq_2020-09_H008_fix.csv'
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection

__all__ = ["mail_name", "mailed_report"]

_LINK = re.compile(r'<a\b(?P<attrs>[^>]*?)\bhref="(?P<href>[^"]*)"(?P<rest>[^>]*)>(?P<text>.*?)</a>', re.S)


def mail_name(period: str, filename: str) -> str:
    """The name a file of the unit's report folder is attached under: ``dq_<period>_<name>``
    (the month in the name keeps months apart in a mailbox or a download folder)."""
    return f"dq_{period}_{filename}"


def mailed_report(page: bytes | str, period: str, attached: Collection[str]) -> bytes:
    """``page`` (a unit report's HTML) with its links rewritten for the e-mail: links to a file
    in ``attached`` (names beside the report, e.g. ``H008_fix.csv``) point at
    :func:`mail_name`; other relative links (the index) are dropped; ``#`` links are kept."""
    text = page.decode("utf-8") if isinstance(page, bytes) else page
    names = set(attached)

    def fix(m: re.Match[str]) -> str:
        href = html.unescape(m.group("href"))
        if href.startswith("#"):
            return m.group(0)
        if href in names:
            new = html.escape(mail_name(period, href), quote=True)
            return f'<a{m.group("attrs")}href="{new}"{m.group("rest")}>{m.group("text")}</a>'
        if "back" in m.group("attrs") or "back" in m.group("rest"):  # "← back to the index"
            return ""
        return m.group("text")

    return _LINK.sub(fix, text).encode("utf-8")
