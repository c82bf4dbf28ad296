"""No traceback reaches a user (issue 15): the console script's last-resort handler.

``main`` is what the installed ``realyield`` script runs; these tests call it in-process
(as the script does) and make a command's library call fail in each way it can.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer

from realyield.cli import data, guard, main
from realyield.core.errors import ConfigError, DataError
from realyield.core.secrets import remember

SECRET = "sk-test-9f8e7d6c5b4a"


def _exit(args: list[str]) -> int:
    with pytest.raises(SystemExit) as ended:
        main(args)
    code = ended.value.code
    assert isinstance(code, int)
    return code


def _fail_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make ``data status`` raise ``exc`` from inside the command."""

    def broken(*_args: object) -> None:
        raise exc

    monkeypatch.setattr(data, "table_counts", broken)


@pytest.mark.usefixtures("settings")
def test_an_unexpected_exception_is_one_line_and_status_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fail_with(monkeypatch, ZeroDivisionError("division by zero\nin the valuation"))
    assert _exit(["data", "status"]) == guard.EX_SOFTWARE == 70
    captured = capsys.readouterr()
    assert captured.err == (
        "internal error: ZeroDivisionError: division by zero in the valuation; this is a "
        "bug, please report it; set REALYIELD_DEBUG=1 for the traceback\n"
    )
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.usefixtures("settings")
def test_a_secret_in_the_exception_is_redacted_with_or_without_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    remember(SECRET)
    _fail_with(monkeypatch, RuntimeError(f"401 for https://api.example/?key={SECRET}"))
    assert _exit(["data", "status"]) == 70
    err = capsys.readouterr().err
    assert "key=***" in err and SECRET not in err
    monkeypatch.setenv(guard.DEBUG_ENV, "1")
    assert _exit(["data", "status"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in broken" in err and "internal error: RuntimeError" in err
    assert SECRET not in err and err.count("key=***") == 2


@pytest.mark.usefixtures("settings")
def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fail_with(monkeypatch, KeyboardInterrupt())
    assert _exit(["data", "status"]) == guard.EX_INTERRUPTED == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "" and "Traceback" not in captured.out


@pytest.mark.usefixtures("settings")
def test_library_errors_keep_their_line_and_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    remember(SECRET)
    _fail_with(monkeypatch, DataError(f"bad [bold]file[/bold] signed {SECRET}"))
    assert _exit(["data", "status"]) == 1
    # Printed literally (no markup eaten) and scrubbed.
    assert capsys.readouterr().err == "error: bad [bold]file[/bold] signed ***\n"
    assert _exit(["universe", "--kind", "farming"]) == 2
    assert "unknown kind 'farming'" in capsys.readouterr().err


def test_a_library_error_raised_outside_a_session_is_still_an_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tiny = typer.Typer()

    @tiny.command()
    def go() -> None:
        raise ConfigError("no such profile 'x'")

    assert guard.run(tiny, []) == 2
    assert capsys.readouterr().err == "error: no such profile 'x'\n"


@pytest.mark.usefixtures("settings")
def test_usage_errors_and_success_are_typers_own(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit(["universe", "--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert "No such option" in err and "internal error" not in err
    assert _exit(["data", "status", "--json"]) == 0
    assert '"tables"' in capsys.readouterr().out
    assert _exit(["--help"]) == 0


def test_the_console_script_runs_main_in_a_real_process(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["realyield"] == "realyield.cli:main"
    env = {"REALYIELD_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    installed = Path(sys.executable).with_name("realyield")  # the script pip wrote
    command = (
        [str(installed)]
        if installed.is_file() and "import main" in installed.read_text()
        else [sys.executable, "-c", "from realyield.cli import main; main()"]
    )
    done = subprocess.run(
        [*command, "universe", "--kind", "farming"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown kind 'farming'" in done.stderr
