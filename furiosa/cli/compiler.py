"""``furiosa-compiler`` (also installed as ``furiosa-compile``): compile a model to ENF.

Help texts follow the vendor's (spec/toolchain-api.md §4.1): ``--help`` prints the long form,
``-h`` the summary. The output file is written atomically: on any error nothing is left behind.
Errors print one line (``error: ...``) and exit with status 1; ``-v`` adds the traceback.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from furiosa.common.version import build_timestamp, emulator_version, git_hash

TARGET_NPUS = ("warboy", "warboy-2pe")
TARGET_IRS = ("enf",)

SOURCE_HELP = "Path to source file (tflite, onnx, and other IR formats, such as dfg, cdfg, gir, lir)"
OPTIONS = [
    ("-o, --output <OUTPUT>", "Writes output to <OUTPUT>", "output.<TARGET_IR>"),
    ("-b, --batch-size <BATCH_SIZE>",
     "Specifies the batch size which is effective when SOURCE is TFLite, ONNX, or DFG", None),
    ("    --target-ir <TARGET_IR>", "(experimental) Target IR - possible values: [enf]", "enf"),
    ("    --target-npu <TARGET_NPU>", "Target NPU family - possible values: [warboy, warboy-2pe]", "warboy-2pe"),
    ("    --dot-graph <DOT_GRAPH>", "Filename to write DOT-formatted graph to", None),
    ("    --analyze-memory <ANALYZE_MEMORY>",
     "Analyzes the memory allocation and save the report to <ANALYZE_MEMORY>", None),
    ("-v, --verbose", "Shows details about the compilation process", None),
    ("    --no-cache", "Disables the compiler result cache", None),
]


def banner() -> str:
    return f"Furiosa SDK Compiler v{emulator_version()} ({git_hash()[:9]} {build_timestamp()})"


def long_help() -> str:
    lines = [banner(), "", "Usage: furiosa-compiler [OPTIONS] <SOURCE>", "", "Arguments:", "  <SOURCE>",
             f"          {SOURCE_HELP}", "", "Options:"]
    for flags, text, default in OPTIONS:
        lines.append(f"  {flags}")
        lines.append(f"          {text}")
        if default is not None:
            lines += ["", f"          [default: {default}]"]
        lines.append("")
    lines += ["  -h, --help", "          Print help (see a summary with '-h')", "",
              "  -V, --version", "          Print version"]
    return "\n".join(lines)


def short_help() -> str:
    rows = [(flags.strip(), text + (f" [default: {default}]" if default else "")) for flags, text, default in OPTIONS]
    rows += [("-h, --help", "Print help (see more with '--help')"), ("-V, --version", "Print version")]
    width = max(len(flags) for flags, _ in rows) + 2
    lines = [banner(), "", "Usage: furiosa-compiler [OPTIONS] <SOURCE>", "", "Arguments:",
             f"  <SOURCE>  {SOURCE_HELP}", "", "Options:"]
    lines += [f"  {flags.ljust(width)}{text}" for flags, text in rows]
    return "\n".join(lines)


def _print_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(long_help() if param.name == "long_help" else short_help())
        ctx.exit(0)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"furiosa-compiler {emulator_version()} (rev: {git_hash()[:9]} built at: {build_timestamp()})")
        ctx.exit(0)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    directory = path.resolve().parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def fail(message: str, verbose: bool, code: int = 1) -> None:
    if verbose:
        traceback.print_exc()
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def compile_source(source: str, output: str, batch_size: int | None, target_npu: str, verbose: bool) -> None:
    from furiosa.common.errors import FuriosaError
    from furiosa.compiler import enf
    from furiosa.compiler.pipeline import compile_program

    started = time.perf_counter()
    try:
        program = compile_program(source, target=target_npu, batch_size=batch_size)
        data = enf.write(program)
        write_atomically(Path(output), data)
    except FuriosaError as error:
        fail(str(error), verbose)
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}", verbose)
    if verbose:
        for op in program.operators:
            click.echo(f"  [{op.index:3d}] {op.unit:4s} {op.name:28s} {op.reason}", err=True)
    npu = len(program.npu_operators)
    click.echo(f"✨  Finished in {time.perf_counter() - started:.6f}s", err=True)
    click.echo(f"The output has been saved to {output} ({npu} NPU operators, {len(program.operators) - npu} "
               f"host operators, target {program.target})", err=True)


@click.command(context_settings={"help_option_names": []}, add_help_option=False)
@click.argument("source", required=True)
@click.option("-o", "--output", default="output.enf", show_default=True)
@click.option("-b", "--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--target-ir", type=click.Choice(TARGET_IRS), default="enf")
@click.option("--target-npu", type=click.Choice(TARGET_NPUS), default="warboy-2pe")
@click.option("--dot-graph", default=None)
@click.option("--analyze-memory", default=None)
@click.option("-v", "--verbose", is_flag=True)
@click.option("--no-cache", is_flag=True)
@click.option("--help", "long_help", is_flag=True, expose_value=False, is_eager=True, callback=_print_help)
@click.option("-h", "short_help", is_flag=True, expose_value=False, is_eager=True, callback=_print_help)
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version)
def main(source: str, output: str, batch_size: int | None, target_ir: str, target_npu: str,
         dot_graph: str | None, analyze_memory: str | None, verbose: bool, no_cache: bool) -> None:
    """Compile SOURCE (ONNX, the bytes quantize() writes, or ENF) to an ENF file."""
    compile_source(source, output, batch_size, target_npu, verbose)


if __name__ == "__main__":
    main()
