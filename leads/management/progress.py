"""A terminal progress bar for management commands: redrawn in place on a terminal,
a line every tenth of the way when the output goes to a file or a pipe."""

from __future__ import annotations

import shutil


class ProgressBar:
    def __init__(self, stream, label: str, unit: str):
        self.stream, self.label, self.unit = stream, label, unit
        self.interactive = stream.isatty()
        self._last_tenth = -1

    def update(self, done: int, total: int, *, approximate: bool = False) -> None:
        total = max(total, done, 1)
        fraction = done / total
        about = "~" if approximate else ""
        text = f"{self.label:<10} {{bar}} {fraction:4.0%}  {done:,} / {about}{total:,} {self.unit}"
        if self.interactive:
            width = max(10, min(40, shutil.get_terminal_size().columns - len(text) + 5))
            filled = int(width * fraction)
            self.stream.write("\r" + text.format(bar="[" + "#" * filled + "-" * (width - filled) + "]"))
            self.stream.flush()
        elif int(fraction * 10) > self._last_tenth:
            self._last_tenth = int(fraction * 10)
            self.stream.write(text.format(bar="") + "\n")

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
