"""How the command line prints: tables that never hide a digit.

Why this exists: rich fits a table into the console by shrinking its columns and cutting
what no longer fits with an ellipsis. In a pipe or a log (a tax report redirected to a
file, a cron job's mail) rich assumes 80 columns (or ``$COLUMNS``), so a figure such as
14,654.12 came out as ``4,654.…`` - with nothing to tell the reader that a digit is gone.

The policy lives here, in the console, so every table of every command follows it
whatever its column hints say, and commands keep building plain ``rich.table.Table``s:

- No cell is ever cut. Each column folds what does not fit onto more lines
  (``overflow="fold"``, wrapping allowed) instead of ending it with ``…``; a fixed or
  maximum column width is lifted (it would fold a long figure on a wide screen).
- On a terminal the table fits the window: rich narrows the widest columns first (in
  practice the text ones: names, notes), and a figure folds only when the window is too
  narrow for even the figures; lines are never cropped at the edge.
- Off a terminal (pipe, file, ``CliRunner``) a table is printed at its natural width,
  however wide, so each row is one line of whole figures, ready for grep or a
  spreadsheet; a rule is as wide as its title, and plain text is not hard-wrapped
  (soft wrap).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.rule import Rule
from rich.table import Table

#: Width used to measure a table's natural width (wider than any real table).
_UNBOUNDED = 1_000_000


def unhidden(table: Table) -> Table:
    """A copy of ``table`` whose columns fold instead of cutting and have no fixed or
    maximum width (rows and cells are shared, not copied)."""
    fitted = copy.copy(table)
    fitted.columns = [
        replace(column, width=None, max_width=None, no_wrap=False, overflow="fold")
        for column in table.columns
    ]
    return fitted


def natural_width(console: Console, table: Table) -> int:
    """Columns of text ``table`` needs to show every cell on one line."""
    return Measurement.get(console, console.options.update_width(_UNBOUNDED), table).maximum


@dataclass(frozen=True)
class AtWidth:
    """A renderable printed at exactly ``width`` columns, whatever the console's width."""

    renderable: RenderableType
    width: int

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.renderable, options.update_width(self.width))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)


class ReportConsole(Console):
    """A rich ``Console`` that applies the module's policy to what it prints.

    Whether the output is a terminal is decided at each ``print`` (the stream can change:
    tests swap ``sys.stdout``), so one module-level console serves every command.
    """

    def print(self, *objects: Any, **options: Any) -> None:
        """``Console.print``; tables are printed uncut, and off a terminal at their
        natural width and without hard wrapping (see the module docstring)."""
        terminal = self.is_terminal
        if not terminal:
            options.setdefault("soft_wrap", True)
        if any(isinstance(o, Table | Rule) for o in objects):
            objects = tuple(self._fit(objects, terminal))
            options["crop"] = False  # a line wider than the console is never cut
        super().print(*objects, **options)

    def _fit(self, objects: Iterable[Any], terminal: bool) -> Iterable[Any]:
        for obj in objects:
            if isinstance(obj, Table):
                table = unhidden(obj)
                width = 0 if terminal else natural_width(self, table)  # a terminal: fit it
                yield AtWidth(table, width) if width > self.width else table
            elif isinstance(obj, Rule) and not terminal:
                title = self.render_str(obj.title) if isinstance(obj.title, str) else obj.title
                width = title.cell_len + 6  # the title, its two spaces and some line
                yield obj if width <= self.width else AtWidth(obj, width)
            else:
                yield obj


__all__ = ["AtWidth", "ReportConsole", "natural_width", "unhidden"]
