"""What every command line of the SDK shares: error reporting, logging, atomic writes, formats.

Errors are one line on stderr (``error: <what failed and what is accepted>``) and a non-zero exit
status: 2 for a bad command line (as clap and argparse do), 1 for anything else. ``-v`` adds the
traceback. Library warnings and log records print as ``warning: <message>``.
"""
from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

USAGE_ERROR = 2
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2
FAILURE = 1


class CliError(Exception):
    """A failure to report in one line (and exit with ``code``)."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, verbose: bool = False, code: int = FAILURE) -> NoReturn:
    """Print ``error: message`` (with the traceback when verbose) and exit."""
    if verbose and sys.exc_info()[0] is not None:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def run(command: click.Command, args: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run a click command with one-line errors instead of click's usage blocks."""
    verbose = any(a in ("-v", "--verbose") for a in (sys.argv[1:] if args is None else args))
    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except _NO_ARGS_IS_HELP as error:
        click.echo(error.ctx.get_help() if error.ctx else str(error))
        sys.exit(USAGE_ERROR)
    except click.UsageError as error:
        fail(error.format_message(), verbose, USAGE_ERROR)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except CliError as error:
        fail(str(error), verbose, error.code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(FAILURE)
    sys.exit(0)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def setup_output(verbose: bool = False) -> None:
    """Log records of the SDK and Python warnings as one line each on stderr."""
    level = logging.INFO if verbose else logging.WARNING
    logger = logging.getLogger("furiosa")
    handler = next((h for h in logger.handlers if getattr(h, "_furiosa_cli", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLine())
        handler._furiosa_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    handler.setLevel(level)
    logger.setLevel(level)

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write an output file atomically and durably (:func:`furiosa.common.files.write_atomically`),
    first removing the temporary files a killed process left for the same output."""
    import glob

    from furiosa.common import files
    from furiosa.compiler.cache import remove_abandoned

    remove_abandoned(path.resolve().parent, f".{glob.escape(path.name)}.*.part")
    files.write_atomically(path, data, durable=True)


def seconds(value: float) -> str:
    """Seconds as the vendor's tools print them (``0.09272794s``: shortest digits, no exponent)."""
    return np.format_float_positional(round(max(value, 0.0), 9), trim="-") + "s"


def check_writable(path: str, what: str) -> Path:
    """The path of an output file whose directory exists (raise :class:`CliError` otherwise)."""
    target = Path(path)
    parent = target.resolve().parent
    if target.is_dir():
        raise CliError(f"cannot write the {what} to {path}: it is a directory")
    if not parent.is_dir():
        raise CliError(f"cannot write the {what} to {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CliError(f"cannot write the {what} to {path}: directory {parent} is not writable")
    return target
