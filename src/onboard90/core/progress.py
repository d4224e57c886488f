"""The progress bar of the long commands (an import, a run over many days, the demo, the bench): one bar
line per stage, on stderr (stdout carries the command's result and may be piped to a log)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

# update(label, done, total): the stage `label` has `done` of `total` (None: not known yet) behind it.
Update = Callable[[str, int, "int | None"], None]


@contextlib.contextmanager
def progress_bar(*, enabled: bool = True, transient: bool = False) -> Iterator[Update]:
    """Yield `update(label, done, total)`; each new label adds a line. Disabled (piped output, `--json`), the
    update does nothing. `transient` clears the bars at the end (a command that prints its own summary)."""
    if not enabled:
        yield lambda label, done, total: None
        return
    # rich (~0.2 s): only a bar on a terminal needs it, not a piped or --json run
    from rich.console import Console
    from rich.progress import (  # rich: see above
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(file=sys.stderr), transient=transient,
    )
    lines: dict[str, Any] = {}

    def update(label: str, done: int, total: int | None) -> None:
        if label not in lines:
            lines[label] = bar.add_task(label, total=total)
        bar.update(lines[label], completed=done, total=max(total, done) if total else None)
        bar.refresh()  # also from a forked child (the bench's), where rich's refresh thread does not run

    with bar:
        yield update
