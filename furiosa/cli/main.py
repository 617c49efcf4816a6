"""``furiosa``: the meta command (spec/toolchain-api.md §7).

Subcommands are the executables ``furiosa-compile``, ``furiosa-server`` and ``furiosa-litmus``
found at start-up, on ``PATH`` or next to this program (so a virtual environment's ``furiosa``
finds its own tools without being activated). ``furiosa SUB ARGS...`` replaces itself with
``furiosa-SUB ARGS...`` (``--help`` included), so the exit status, signals and standard streams
are the subcommand's. Help, usage and errors have the vendor's (argparse) layout.

This SDK's own tools (``furiosa-quantize-report``, ``furiosa-sweep``) run the same way; they are
listed after the vendor's help text rather than among its choices, so the vendor's usage line and
error messages stay as they are.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import click

from furiosa.common.version import sdk_version

SUBCOMMANDS = {
    "compile": "FuriosaAI SDK Compiler for DNN models",
    "server": "RESTful/GRPC Serving framework for DNN models",
    "litmus": "Validator to check if DNN models work in FuriosaAI SDK",
}
EXTENSIONS = {
    "quantize-report": "Per-layer accuracy report of a quantized model against the float model",
    "sweep": "What-if sweep: accuracy against modeled latency and throughput",
}


def find_tool(name: str) -> str | None:
    """The executable ``furiosa-<name>``, on PATH or beside this program."""
    found = shutil.which(f"furiosa-{name}")
    if found:
        return found
    for directory in {Path(sys.argv[0]).resolve().parent, Path(sys.executable).parent}:
        candidate = directory / f"furiosa-{name}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def available() -> dict[str, str]:
    """Subcommand name → executable, for the tools that are installed."""
    return {name: path for name in SUBCOMMANDS if (path := find_tool(name))}


def _parser(tools: dict[str, str]) -> argparse.ArgumentParser:
    """An argparse parser used to render help, usage and errors in the vendor's layout."""
    extensions = [name for name in EXTENSIONS if find_tool(name)]
    epilog = None
    if extensions:
        width = max(len(name) for name in extensions) + 2
        epilog = "emulator extensions:\n" + "\n".join(f"  {name.ljust(width)}{EXTENSIONS[name]}" for name in extensions)
    parser = argparse.ArgumentParser(prog="furiosa", description=f"FuriosaAI SDK CLI (ver. {sdk_version().version})",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=str(sdk_version()))
    sub = parser.add_subparsers(dest="subcommand", help="sub-command help")
    for name in tools:
        sub.add_parser(name, help=SUBCOMMANDS[name], add_help=False)
    return parser


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                 "help_option_names": []}, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """furiosa SUBCOMMAND [ARGS]..."""
    tools = available()
    parser = _parser(tools)
    if not args:
        parser.print_help()
        sys.exit(0)
    first = args[0]
    if first in ("-h", "--help"):
        parser.print_help()
        sys.exit(0)
    if first == "--version":
        click.echo(str(sdk_version()))
        sys.exit(0)
    if first.startswith("-"):
        parser.error(f"unrecognized arguments: {' '.join(args)}")
    if first in EXTENSIONS and (extension := find_tool(first)):
        tools[first] = extension
    if first not in tools:
        choices = ", ".join(repr(name) for name in tools)
        parser.error(f"argument subcommand: invalid choice: {first!r} (choose from {choices})")
    path = tools[first]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(path, [path, *args[1:]])
    except OSError as error:
        click.echo(f"furiosa: error: cannot run {path}: {error.strerror}", err=True)
        sys.exit(1)


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosa``."""
    command.main(args=args, prog_name="furiosa")


if __name__ == "__main__":
    main()
