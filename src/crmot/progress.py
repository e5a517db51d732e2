"""Progress of long steps: a rich bar per item on a terminal, a plain line now and then otherwise (logs, CI)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

#: Seconds between plain progress lines when the output is not a terminal.
PLAIN_EVERY = 10.0


class FrameProgress:
    """``advance(item, done, total)``: one bar per item (a scene, a view; ``total`` None when unknown)."""

    def __init__(self, console: Console | None, what: str) -> None:
        self.console = console or Console(stderr=True)
        self.what = what
        self.bars: Progress | None = None
        self.tasks: dict[str, int] = {}
        self.last = 0.0

    def start(self) -> FrameProgress:
        if self.console.is_terminal:
            self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=self.console)
            self.bars.start()
        return self

    def advance(self, item: str, done: int, total: int | None) -> None:
        if self.bars is None:
            now = time.monotonic()
            if done == total or now - self.last >= PLAIN_EVERY:
                self.console.print(f"{self.what}: {item} {done}/{total or '?'}")
                self.last = now
            return
        if item not in self.tasks:
            self.tasks[item] = self.bars.add_task(f"{self.what}: {item}", total=total)
        self.bars.update(self.tasks[item], completed=done)

    def stop(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None


def on_rank_zero(trainer, what: str) -> FrameProgress | None:
    """A started ``FrameProgress`` on the process that reports (rank 0), None on the others."""
    return FrameProgress(None, what).start() if trainer.is_global_zero else None


def for_item(progress: FrameProgress | None, item: str) -> Callable[[int, int], None] | None:
    """``advance(done, total)`` of one item's bar (None without a bar: the stage's workers other than rank 0)."""
    return None if progress is None else (lambda done, total: progress.advance(item, done, total))


def stop(progress: FrameProgress | None) -> None:
    if progress is not None:
        progress.stop()


@contextlib.contextmanager
def frame_progress(console: Console | None, what: str) -> Iterator[Callable[[str, int, int | None], None]]:
    """``FrameProgress`` for the length of a ``with`` block; yields its ``advance``."""
    progress = FrameProgress(console, what).start()
    try:
        yield progress.advance
    finally:
        progress.stop()
