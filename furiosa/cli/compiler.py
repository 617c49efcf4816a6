"""``furiosa-compiler`` (also installed as ``furiosa-compile``): compile a model to ENF.

Help texts follow the vendor's (spec/toolchain-api.md §4.1): ``--help`` prints the long form,
``-h`` the summary. Progress goes to stderr in the vendor's six steps; how the emulator's stages
map onto them is in :mod:`furiosa.cli.progress` and docs/cli.md. Outputs (the ENF file, the DOT
graph, the memory report) are written atomically: on any error nothing is left behind. Results
go through the compiler cache (:mod:`furiosa.compiler.cache`) unless ``--no-cache``.
Errors print one line (``error: ...``) and exit non-zero; ``-v`` adds the traceback.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from furiosa.common.version import build_timestamp, compiler_version_string, emulator_version, git_hash

from ._common import CliError, check_writable, run, seconds, setup_output, write_atomically

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
        click.echo(f"furiosa-compiler {compiler_version_string()}")
        ctx.exit(0)


def compile_source(source: str, output: str, batch_size: int | None, target_npu: str, *,
                   dot_graph: str | None = None, analyze_memory: str | None = None, verbose: bool = False,
                   use_cache: bool = True) -> None:
    """Compile ``source`` to ``output`` with progress on stderr; raise :class:`CliError` on failure."""
    from furiosa.common.errors import FuriosaError
    from furiosa.compiler import cache, report
    from furiosa.compiler.source import detect, read_source

    from .progress import CompileProgress

    started = time.perf_counter()
    targets = [(check_writable(output, "output"), "output")]
    if dot_graph:
        targets.append((check_writable(dot_graph, "DOT graph"), "DOT graph"))
    if analyze_memory:
        targets.append((check_writable(analyze_memory, "memory analysis"), "memory analysis"))
    try:
        data, origin, base_dir = read_source(source)
    except FuriosaError as error:
        raise CliError(str(error)) from error
    kind = detect(data)
    progress = CompileProgress(kind)
    try:
        compiled = cache.compile_cached(data, origin, base_dir, target=target_npu, batch_size=batch_size,
                                        use_cache=use_cache, compile_fn=progress.compile)
    except FuriosaError as error:
        progress.abandon()
        raise CliError(str(error)) from error
    program = compiled.program
    if compiled.cached:
        click.echo(f"Found the compiled program in the compiler cache ({compiled.store}, "
                   f"key {compiled.key[:16]})", err=True)
    elif progress.started:
        progress.serialized()

    if progress.started:
        progress.begin(5)
    try:
        if dot_graph:
            write_atomically(Path(dot_graph), report.dot_graph(program))
        if analyze_memory:
            write_atomically(Path(analyze_memory), report.memory_html(program, f"Memory analysis of {Path(source).name}"))
        if progress.started:
            progress.end()
            progress.begin(6)
        write_atomically(Path(output), compiled.data)
    except OSError as error:
        progress.abandon()
        raise CliError(f"cannot write {error.filename or output}: {error.strerror}") from error
    if progress.started:
        progress.end()
    if verbose:
        click.echo(report.placement_text(program), err=True)
    click.echo(f"✨  Finished in {seconds(time.perf_counter() - started)}", err=True)
    npu = len(program.npu_operators)
    click.echo(f"The output has been saved to {output} ({npu} NPU operators, {len(program.operators) - npu} "
               f"host operators, target {program.target})", err=True)


@click.command(context_settings={"help_option_names": []}, add_help_option=False)
@click.argument("source", required=True)
@click.option("-o", "--output", default="output.enf")
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
def command(source: str, output: str, batch_size: int | None, target_ir: str, target_npu: str,
            dot_graph: str | None, analyze_memory: str | None, verbose: bool, no_cache: bool) -> None:
    """Compile SOURCE (ONNX, the bytes quantize() writes, or ENF) to an ENF file."""
    setup_output(verbose)
    compile_source(source, output, batch_size, target_npu, dot_graph=dot_graph, analyze_memory=analyze_memory,
                   verbose=verbose, use_cache=not no_cache)


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosa-compiler`` and ``furiosa-compile``."""
    run(command, args, prog_name="furiosa-compiler")


if __name__ == "__main__":
    main()
