"""``furiosa-quantize-report`` (also ``furiosa quantize-report``): the per-layer accuracy report.

Quantizes an ONNX model (with the ranges recorded in it, or by calibrating it), compiles it,
runs it on the emulated NPU and compares every quantized tensor with the float model
(:func:`furiosa.quantizer.report.accuracy_report`). The worst layers and the suggestions for
bad ones go to stdout; ``-o`` writes the JSON report, ``--html`` the self-contained HTML page.
Data: ``.npy`` / ``.npz`` files, or random samples with a note saying what that measures
(docs/reports.md). Errors print one line (``error: ...``); ``-v`` adds the traceback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import CliError, check_writable, run, setup_output, write_atomically

METHODS = ("MIN_MAX_ASYM", "MIN_MAX_SYM", "ENTROPY_ASYM", "ENTROPY_SYM", "PERCENTILE_ASYM", "PERCENTILE_SYM",
           "MSE_ASYM", "MSE_SYM", "SQNR_ASYM", "SQNR_SYM")
TARGETS = ("warboy", "warboy-2pe")


def method_name(value: str) -> str:
    """A calibration method's name in any case, checked."""
    name = value.strip().upper()
    if name not in METHODS:
        raise click.BadParameter(f"{value!r} is not a calibration method; choose from {', '.join(METHODS)}")
    return name


def load_model(path: str, optimize: bool) -> tuple[Any, bool]:
    """The ONNX model at ``path`` (optimized unless it carries ranges or ``optimize`` is off).

    Returns the model and whether it carries calibration ranges.
    """
    import onnx

    from furiosa.quantizer.metadata import CALIBRATION_KEY

    file = Path(path)
    if not file.exists():
        raise CliError(f"{path} does not exist; give an ONNX model", 2)
    if file.is_dir():
        raise CliError(f"{path} is a directory; give an ONNX model file", 2)
    try:
        model = onnx.load(str(file))
    except Exception:
        raise CliError(f"{path} is not an ONNX model (the reports compare ONNX models with their int8 "
                       "programs)") from None
    if not model.HasField("graph") or not model.graph.node:
        raise CliError(f"{path} is not an ONNX model with a graph")
    calibrated = any(p.key == CALIBRATION_KEY for p in model.metadata_props)
    if optimize and not calibrated:
        from furiosa.optimizer import optimize_model

        try:
            model = optimize_model(model)
        except Exception as error:
            raise CliError(f"cannot optimize {path}: {error}") from None
    return model, calibrated


def load_data(model: Any, calibration: str | None, evaluation: str | None, samples: int, seed: int) -> Any:
    """The calibration and evaluation samples (:func:`furiosa.quantizer.report.data.datasets`)."""
    from furiosa.quantizer.report.data import datasets, model_inputs

    try:
        inputs = model_inputs(model)
        return datasets(inputs, calibration, evaluation, samples, seed)
    except (ValueError, FileNotFoundError, TypeError) as error:
        raise CliError(str(error)) from None


def write_outputs(outputs: list[tuple[str, str, Any]]) -> None:
    """Write (path, what, producer) entries atomically; the producer returns the text."""
    for path, what, produce in outputs:
        try:
            write_atomically(Path(path), produce())
        except OSError as error:
            raise CliError(f"cannot write the {what} to {path}: {error.strerror}") from None


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("model", metavar="MODEL")
@click.option("-c", "--calibration-data", metavar="FILE", default=None,
              help=".npy / .npz samples to calibrate with (and to propose other ranges from)")
@click.option("-e", "--evaluation-data", metavar="FILE", default=None,
              help=".npy / .npz samples to compare on [default: the calibration data]")
@click.option("-n", "--samples", type=click.IntRange(min=1), default=32, show_default=True,
              help="random samples per set when no data file is given")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the random samples")
@click.option("-m", "--method", default="MIN_MAX_ASYM", show_default=True, callback=lambda c, p, v: method_name(v),
              help="calibration method, when the model carries no ranges")
@click.option("-p", "--percentage", type=click.FloatRange(0, 100), default=99.99, show_default=True,
              help="percentile of the PERCENTILE methods")
@click.option("--target-npu", type=click.Choice(TARGETS), default="warboy-2pe", show_default=True)
@click.option("--bad-sqnr", type=float, default=25.0, show_default=True,
              help="layers adding error below this SQNR (dB) are bad")
@click.option("--suggestions", type=click.IntRange(min=0), default=3, show_default=True,
              help="how many bad layers (worst first) get suggestions, each applied and measured")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="layers printed")
@click.option("-o", "--output", metavar="FILE", default=None, help="write the report as JSON")
@click.option("--html", "html_path", metavar="FILE", default=None,
              help="write the report as a self-contained HTML page")
@click.option("--no-optimize", is_flag=True, help="use the model as it is (it must have a value_info for every tensor)")
@click.option("-v", "--verbose", is_flag=True, help="INFO logs and tracebacks")
def command(model: str, calibration_data: str | None, evaluation_data: str | None, samples: int, seed: int,
            method: str, percentage: float, target_npu: str, bad_sqnr: float, suggestions: int, top: int,
            output: str | None, html_path: str | None, no_optimize: bool, verbose: bool) -> None:
    """Compare every quantized tensor of MODEL's int8 program with the float model, worst layers first.

    MODEL is an ONNX model: a float model (optimized here, then calibrated with --method on the
    calibration data) or the output of furiosa.quantizer.quantize() (its ranges are used as they are).
    """
    setup_output(verbose)
    if output:
        check_writable(output, "JSON report")
    if html_path:
        check_writable(html_path, "HTML report")
    proto, _ = load_model(model, not no_optimize)
    data = load_data(proto, calibration_data, evaluation_data, samples, seed)

    from furiosa.common.errors import FuriosaError
    from furiosa.quantizer import CalibrationMethod
    from furiosa.quantizer.report import accuracy_report

    try:
        report = accuracy_report(proto, data.calibration, data.evaluation, method=CalibrationMethod[method],
                                 percentage=percentage, target=target_npu, bad_sqnr_db=bad_sqnr,
                                 max_suggestions=suggestions, progress=True)
    except (FuriosaError, ValueError, RuntimeError, TypeError) as error:
        raise CliError(str(error).strip().splitlines()[0] if str(error).strip() else repr(error)) from error
    report = _named(report, Path(model).name, data.notes)
    write_outputs([(path, what, report.to_json if what.startswith("JSON") else report.to_html)
                   for path, what in [(output, "JSON report"), (html_path, "HTML report")] if path])
    click.echo(report.summary(top))  # the data notes are part of the summary
    for path, what in [(output, "JSON report"), (html_path, "HTML report")]:
        if path:
            click.echo(f"The {what} has been saved to {path}", err=True)


def _named(report: Any, name: str, notes: tuple[str, ...]) -> Any:
    from dataclasses import replace

    return replace(report, model_name=name, notes=tuple(notes) + tuple(report.notes))


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosa-quantize-report``."""
    run(command, args, prog_name="furiosa-quantize-report")


if __name__ == "__main__":
    main()
