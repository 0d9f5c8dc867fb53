"""Progress of a long file, on standard error (standard output stays free for what a script wants to read)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol


class Progress(Protocol):
    def start(self, total: int | None, what: str) -> None: ...

    def advance(self, done: int) -> None: ...


class Silent:
    """For library use and tests: no output."""

    def start(self, total: int | None, what: str) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


class Bar:
    """A rich progress bar: rows done of the total, the rate and the time left."""

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[what]}"),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._description = description
        self._task: Any = None

    def __enter__(self) -> Bar:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start(self, total: int | None, what: str) -> None:
        self._task = self._progress.add_task(self._description, total=total, what=what)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, done)
