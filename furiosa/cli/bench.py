"""``furiosa-bench``: benchmark a model on the emulated NPU (spec/toolchain-api.md §9).

Takes ONNX, TFLite or ENF files (anything the runtime loads), runs it with
:mod:`furiosa.runtime.bench` and prints the vendor's report, followed by the modeled figures of
the Warboy timing model, clearly labelled. ``-o`` writes the JSON result, ``-T`` a Chrome trace.
The help text has the vendor's clap layout (``USAGE:``, ``ARGS:``, ``OPTIONS:``).
"""
from __future__ import annotations

import click

from furiosa.common.version import compiler_version_string, emulator_version

from ._common import CliError, check_writable, run, setup_output

USAGE = "furiosa-bench [OPTIONS] <model-path>"
ARGS = [("<model-path>", "Path to the model to benchmark: ONNX, TFLite or ENF")]
OPTIONS = [
    ("-b, --batch <number>", "Batch size of every query; powers of two suit the NPU best [default: 1]"),
    ("-o, --output <bench-result-path>", "Writes the benchmark result as JSON to <bench-result-path>"),
    ("-C, --compiler-config <compiler-config>", "YAML file holding a compiler configuration (ignored for ENF models)"),
    ("-d, --devices <devices>",
     "Devices to run on, e.g. \"warboy(2)*1\", \"warboy(1)*2\", \"npu0pe0-1\" [default: FURIOSA_DEVICES or warboy(2)*1]"),
    ("-t, --io-threads <number>", "Number of I/O threads feeding queries [default: 1]"),
    ("    --duration <min-duration>",
     "Minimum run time in seconds; the run ends once both --duration and --queries are reached [default: 0]"),
    ("-n, --queries <min-query-count>", "Minimum number of queries to run [default: 1]"),
    ("-T, --trace-output <trace-output>", "Writes a Chrome trace (JSON) of the run to <trace-output>"),
    ("-v, --verbose", "Prints verbose log messages"),
    ("-w, --workers <number>", "Number of runtime workers per device [default: 1]"),
    ("    --workload <workload>",
     "L (latency: one query at a time) or T (throughput: keep every worker busy) [default: L]"),
    ("-h, --help", "Prints help information"),
    ("-V, --version", "Prints version information"),
]


def help_text() -> str:
    width = max(len(flags) for flags, _ in OPTIONS + ARGS) + 4
    lines = [f"furiosa-bench {emulator_version()}", "Benchmarks a model on the (emulated) FuriosaAI Warboy NPU", "",
             "USAGE:", f"    {USAGE}", "", "OPTIONS:"]
    lines += [f"    {flags.ljust(width)}{text}" for flags, text in OPTIONS]
    lines += ["", "ARGS:"]
    lines += [f"    {name.ljust(width)}{text}" for name, text in ARGS]
    return "\n".join(lines)


def _print_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(help_text())
        ctx.exit(0)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"furiosa-bench {emulator_version()} (compiler {compiler_version_string()})")
        ctx.exit(0)


def _workload(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from furiosa.runtime.bench import WORKLOADS

    if value.upper() not in WORKLOADS:
        raise click.BadParameter(f"{value!r} is not a workload; use L (latency) or T (throughput)", ctx, param)
    return value.upper()[0]


def _load_config(path: str | None) -> dict | None:
    if path is None:
        return None
    from furiosa.common.errors import InvalidConfigError
    from furiosa.compiler.config import CompilerConfig

    import yaml

    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise CliError(f"cannot read the compiler config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        reason = str(error).splitlines()[0]
        raise CliError(f"the compiler config {path} is not valid YAML ({reason})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise CliError(f"the compiler config {path} must hold a mapping of keys to values, not a "
                       f"{type(data).__name__}")
    try:
        CompilerConfig.from_mapping(data)
    except InvalidConfigError as error:
        raise CliError(f"{path}: {error}") from None
    return data


@click.command(context_settings={"help_option_names": []}, add_help_option=False)
@click.argument("model_path", metavar="<model-path>")
@click.option("-b", "--batch", type=click.IntRange(min=1), default=None)  # None: the model's (1 when compiled)
@click.option("-o", "--output", default=None)
@click.option("-C", "--compiler-config", default=None)
@click.option("-d", "--devices", default=None)
@click.option("-t", "--io-threads", type=click.IntRange(min=1), default=1)
@click.option("--duration", type=click.FloatRange(min=0), default=0.0)
@click.option("-n", "--queries", type=click.IntRange(min=1), default=1)
@click.option("-T", "--trace-output", default=None)
@click.option("-v", "--verbose", is_flag=True)
@click.option("-w", "--workers", type=click.IntRange(min=1), default=1)
@click.option("--workload", default="L", callback=_workload)
@click.option("-h", "--help", is_flag=True, expose_value=False, is_eager=True, callback=_print_help)
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version)
def command(model_path: str, batch: int | None, output: str | None, compiler_config: str | None, devices: str | None,
            io_threads: int, duration: float, queries: int, trace_output: str | None, verbose: bool,
            workers: int, workload: str) -> None:
    """Benchmark MODEL_PATH."""
    import os
    import sys

    setup_output(verbose)
    if not os.path.exists(model_path):
        raise CliError(f"{model_path} does not exist; furiosa-bench takes an ONNX, TFLite or ENF file")
    if os.path.isdir(model_path):
        raise CliError(f"{model_path} is a directory; furiosa-bench takes an ONNX, TFLite or ENF file")
    config = _load_config(compiler_config)
    if output:
        check_writable(output, "benchmark result")
    if trace_output:
        check_writable(trace_output, "trace")

    from furiosa.runtime.bench import BenchConfig, BenchRunner

    runner = BenchRunner(BenchConfig(model_path, io_thread_num=io_threads, worker_num=workers, devices=devices,
                                     batch_size=batch, min_query_count=queries, min_duration=duration,
                                     compiler_config=config, trace_output=trace_output, verbose=verbose),
                         workload)
    from furiosa.runtime._errors import FuriosaRuntimeError

    try:
        runner.run_sync(output, progress=sys.stderr.isatty())
    except (FuriosaRuntimeError, RuntimeError, ValueError, TypeError, OSError) as error:
        raise CliError(_one_line(error)) from error


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosa-bench``."""
    run(command, args, prog_name="furiosa-bench")


if __name__ == "__main__":
    main()
