"""Progress of long steps: a rich bar on a terminal, a plain line now and then otherwise (logs, CI)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

#: Seconds between plain progress lines when the output is not a terminal.
PLAIN_EVERY = 10.0


@contextlib.contextmanager
def frame_progress(console: Console, what: str) -> Iterator[Callable[[str, int, int], None]]:
    """Yields ``advance(item, done, total)``: one bar per item (a scene, a view; ``total`` None when
    unknown), or plain lines every ``PLAIN_EVERY`` seconds off a TTY."""
    if not console.is_terminal:
        last = [0.0]

        def plain(item: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] >= PLAIN_EVERY:
                console.print(f"{what}: {item} {done}/{total or '?'}")
                last[0] = now

        yield plain
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as progress:
        tasks: dict[str, int] = {}

        def advance(item: str, done: int, total: int) -> None:
            if item not in tasks:
                tasks[item] = progress.add_task(f"{what}: {item}", total=total)
            progress.update(tasks[item], completed=done)

        yield advance
