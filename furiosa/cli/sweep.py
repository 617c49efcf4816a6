"""``furiosa-sweep`` (also ``furiosa sweep``): what-if sweep of accuracy against modeled speed.

Compiles and evaluates an ONNX model across calibration methods (and percentiles), ModelEditor
I/O types, batch sizes and targets (:func:`furiosa.quantizer.report.sweep`) and prints a table of
accuracy against float with the modeled latency and throughput, Pareto points marked. ``-o``
writes JSON, ``--plot`` an SVG plot, ``--markdown`` prints the table as markdown. Data as for
``furiosa-quantize-report`` (docs/reports.md). Errors print one line; ``-v`` adds the traceback.
"""
from __future__ import annotations

from pathlib import Path

import click

from ._common import CliError, check_writable, run, setup_output
from .quantize_report import METHODS, TARGETS, load_data, load_model, write_outputs

IO_CHOICES = ("float", "uint8-input", "int8-output", "uint8-input+int8-output")


def _list(value: str, what: str, choices: tuple[str, ...] | None = None, upper: bool = False) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if upper:
        items = [v.upper() for v in items]
    if choices is not None:
        if items == ["ALL"] or items == ["all"]:
            return list(choices)
        unknown = [v for v in items if v not in choices]
        if unknown:
            raise click.BadParameter(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(choices)} or all")
    if not items:
        raise click.BadParameter(f"give at least one {what}")
    return items


def _numbers(value: str, what: str, kind: type) -> list:
    out = []
    for item in _list(value, what):
        try:
            out.append(kind(item))
        except ValueError:
            raise click.BadParameter(f"{item!r} is not a valid {what}") from None
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("model", metavar="MODEL")
@click.option("-c", "--calibration-data", metavar="FILE", default=None, help=".npy / .npz calibration samples")
@click.option("-e", "--evaluation-data", metavar="FILE", default=None,
              help=".npy / .npz samples to compare on [default: the calibration data]")
@click.option("--labels", metavar="FILE", default=None,
              help=".npy class labels, one per row of the classification output over the evaluation samples")
@click.option("-n", "--samples", type=click.IntRange(min=1), default=32, show_default=True,
              help="random samples per set when no data file is given")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the random samples")
@click.option("--methods", default="all", show_default=True, help="comma-separated calibration methods, or all")
@click.option("--percentiles", default="99.9,99.99,99.999", show_default=True,
              help="percentiles tried with the PERCENTILE methods")
@click.option("-b", "--batch-sizes", default="1,8", show_default=True, help="comma-separated batch sizes")
@click.option("--targets", default="warboy,warboy-2pe", show_default=True, help="comma-separated target NPUs")
@click.option("--io", "io_variants", default="all", show_default=True,
              help=f"comma-separated I/O variants ({', '.join(IO_CHOICES)}), or all")
@click.option("--metric", type=click.Choice(("top1", "sqnr", "labels")), default=None,
              help="accuracy the table ranks by [default: top1 for classifiers, else sqnr]")
@click.option("--front-only", is_flag=True, help="print only the points on a Pareto front")
@click.option("--markdown", is_flag=True, help="print the table as markdown")
@click.option("-o", "--output", metavar="FILE", default=None, help="write every point as JSON")
@click.option("--plot", metavar="FILE", default=None, help="write the plot as SVG")
@click.option("--no-optimize", is_flag=True, help="use the model as it is (it must have a value_info for every tensor)")
@click.option("-v", "--verbose", is_flag=True, help="INFO logs and tracebacks")
def command(model: str, calibration_data: str | None, evaluation_data: str | None, labels: str | None, samples: int,
            seed: int, methods: str, percentiles: str, batch_sizes: str, targets: str, io_variants: str,
            metric: str | None, front_only: bool, markdown: bool, output: str | None, plot: str | None,
            no_optimize: bool, verbose: bool) -> None:
    """Compile and evaluate MODEL across calibration methods, I/O types, batch sizes and targets.

    Prints accuracy against the float model next to the modeled latency and throughput, and marks
    the Pareto fronts (L: accuracy vs latency, T: accuracy vs throughput).
    """
    setup_output(verbose)
    method_list = _list(methods, "method", METHODS, upper=True)
    percentile_list = _numbers(percentiles, "percentile", float) if any("PERCENTILE" in m for m in method_list) else []
    batch_list = _numbers(batch_sizes, "batch size", int)
    if any(b < 1 for b in batch_list):
        raise click.BadParameter(f"batch sizes must be positive, got {batch_sizes}")
    target_list = _list(targets, "target", TARGETS)
    io_list = _list(io_variants, "I/O variant", IO_CHOICES)
    if output:
        check_writable(output, "JSON result")
    if plot:
        check_writable(plot, "plot")
    proto, _ = load_model(model, not no_optimize)
    data = load_data(proto, calibration_data, evaluation_data, samples, seed)
    label_array = None
    if labels is not None:
        import numpy as np

        try:
            label_array = np.load(labels, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise CliError(f"cannot read the labels {labels}: {error}") from None
        if not isinstance(label_array, np.ndarray) or label_array.dtype.kind not in "iu":
            raise CliError(f"{labels} must hold one integer array of class labels")

    from furiosa.common.errors import FuriosaError
    from furiosa.quantizer.report import sweep

    try:
        result = sweep(proto, data.calibration, data.evaluation, methods=method_list, percentiles=percentile_list,
                       batch_sizes=batch_list, targets=target_list, io_variants=io_list, labels=label_array,
                       metric=metric, progress=True)
    except (FuriosaError, ValueError, RuntimeError, TypeError) as error:
        raise CliError(str(error).strip().splitlines()[0] if str(error).strip() else repr(error)) from error
    from dataclasses import replace

    result = replace(result, model_name=Path(model).name, notes=tuple(data.notes) + tuple(result.notes))
    write_outputs([(path, what, produce) for path, what, produce in
                   [(output, "JSON result", result.to_json), (plot, "plot", result.to_svg)] if path])
    ranked_by = {"top1_agreement": "top-1 agreement with float", "output_sqnr_db": "output SQNR vs float",
                 "label_accuracy": "accuracy on the labels"}[result.metric]
    float_accuracy = ("" if result.float_label_accuracy is None else
                      f" (float model on the labels: {100 * result.float_label_accuracy:.1f} %)")
    click.echo(f"Sweep of {result.model_name}: {len(result.points)} configurations, {result.calibration_samples} "
               f"calibration / {result.evaluation_samples} evaluation sample(s); ranked by {ranked_by}{float_accuracy}")
    click.echo("Latency and throughput are modeled (Warboy timing model, native host projection); "
               "front: L = Pareto for latency, T = for throughput")
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(result.to_markdown(front_only) if markdown else result.to_table(front_only))
    for path, what in [(output, "JSON result"), (plot, "plot")]:
        if path:
            click.echo(f"The {what} has been saved to {path}", err=True)


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosa-sweep``."""
    run(command, args, prog_name="furiosa-sweep")


if __name__ == "__main__":
    main()
