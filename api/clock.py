"""The programme's calendar: what "today" and "now" are for the rules (coverage starts, due dates, ages).

Real time in Asia/Jakarta, whatever the server's zone. A training or test installation may read the date from
``Settings.clock_file`` instead (refused in production by the settings), so a programme year can be walked
through in minutes. The audit trail and row timestamps always keep real time: they record when things happened.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Jakarta")


def _from_file(path: Path) -> datetime | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RuntimeError(f"clock file {path}: not an ISO date or date-time: {text!r}") from exc
    if len(text) == 10:  # a bare date: noon, so that "now" falls on that day in any zone offset
        moment = datetime.combine(moment.date(), time(12, 0))
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def now(clock_file: Path | None = None) -> datetime:
    """The programme's current moment, in Asia/Jakarta."""
    moment = _from_file(clock_file) if clock_file is not None else None
    return (moment or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ)


def today(clock_file: Path | None = None) -> date:
    return now(clock_file).date()
