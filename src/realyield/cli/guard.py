"""The last line of defence of the ``realyield`` command: no traceback reaches a user.

Commands turn the library's ``RealyieldError``s into one clear line (``common.fail``).
Whatever still escapes a command ends here:

- a ``RealyieldError`` raised outside a command's session is still the user's error:
  the same ``error:`` line and status (2 for configuration, else 1);
- anything else is a bug: one line names it, says so and how to see the traceback
  (``REALYIELD_DEBUG=1``), and the status is 70 (sysexits' EX_SOFTWARE), so a script
  can tell a bug from a refused input;
- Ctrl-C ends quietly with status 130; click's usage errors (status 2), ``typer.Exit``
  and a closed pipe keep the handling typer and click give them.

Every message and traceback printed here goes through ``core.secrets.redact``, so a
registered secret quoted by an exception is printed as ``***``.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import typer
from rich.markup import escape

from realyield.cli.common import err, fail
from realyield.core.errors import RealyieldError
from realyield.core.secrets import redact

EX_SOFTWARE = 70
EX_INTERRUPTED = 130
DEBUG_ENV = "REALYIELD_DEBUG"


def run(app: typer.Typer, args: Sequence[str] | None = None) -> int:
    """Run ``app`` as the console script does (``args`` default to ``sys.argv``) and
    return the process exit status instead of raising."""
    try:
        app(args=None if args is None else list(args), prog_name="realyield")
    except SystemExit as exc:  # typer/click end every run this way (standalone mode)
        return _status(exc.code)
    except KeyboardInterrupt:
        return EX_INTERRUPTED
    except RealyieldError as exc:
        return int(fail(exc).exit_code)
    except Exception as exc:
        report_bug(exc)
        return EX_SOFTWARE
    return 0


def report_bug(exc: BaseException) -> None:
    """Print the one-line report of an unexpected exception (the redacted traceback
    first when ``REALYIELD_DEBUG`` is set to anything but 0)."""
    if os.environ.get(DEBUG_ENV, "0").strip() not in ("", "0"):
        err.out(redact("".join(traceback.format_exception(exc))), highlight=False, end="")
    message = redact(" ".join(str(exc).split())) or "(no message)"
    err.print(
        f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(message)}; "
        f"this is a bug, please report it; set {DEBUG_ENV}=1 for the traceback",
        highlight=False,
        soft_wrap=True,
    )


def _status(code: object) -> int:
    """The exit status ``sys.exit(code)`` would give (a text code is printed, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(redact(str(code)), file=sys.stderr)
    return 1


__all__ = ["DEBUG_ENV", "EX_INTERRUPTED", "EX_SOFTWARE", "report_bug", "run"]
