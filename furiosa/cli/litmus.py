"""``furiosa-litmus`` / ``furiosa litmus``: can this model go through the SDK? (spec/toolchain-api.md §8)

Four steps, each printing the vendor's lines:

1. load the ONNX model and optimize it (``furiosa.optimizer.optimize_model``);
2. calibrate it on 8 random samples (MIN_MAX_ASYM) and quantize it (``furiosa.quantizer``);
3. compile it with ``furiosa-compiler`` for the target NPU (a subprocess, as the vendor does);
4. run one inference with :mod:`furiosa.runtime.bench` and print the latency report.

``--skip-quantization`` compiles the file as given. ``--dump PREFIX`` collects the environment
(``meta.yaml``), the compiler's log, its memory analysis and DOT graph and a runtime trace into
``PREFIX-<epoch>.zip`` (written whole, also when a step fails).

One deliberate difference: a failed compilation (step 3) exits with status 1, where the vendor's
tool exits 0; a failed check should fail a CI job.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

from furiosa.common.version import sdk_version

from ._common import run, setup_output

TARGET_NPUS = ("warboy", "warboy-2pe")
CALIBRATION_SAMPLES = 8


def _parser() -> argparse.ArgumentParser:
    """Renders help and usage in the vendor's argparse layout (parsing is click's)."""
    parser = argparse.ArgumentParser(prog="furiosa-litmus", description="Validate the model",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("model_path", type=str, help="Path to Model file (only onnx model format is supported)")
    parser.add_argument("--dump", metavar="OUTPUT_PREFIX", type=str, default=None,
                        help="Collect compiler log and environment information and save them into an archive "
                             "file. A unix epoch timestamp and '.zip' extension will be added to OUTPUT_PREFIX "
                             "automatically.")
    parser.add_argument("-v", "--verbose", action="store_true", help="increase output verbosity")
    parser.add_argument("--skip-quantization", action="store_true", help="skip model quantization phase")
    parser.add_argument("--target-npu", type=str, default="warboy-2pe",
                        help=f"Target NPU: {', '.join(TARGET_NPUS)}")
    return parser


def _print_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        _parser().print_help()
        ctx.exit(0)


def say(text: str = "") -> None:
    print(text, flush=True)


def warn(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


class StepFailed(Exception):
    """A step failed; the message has been printed. ``code`` is the exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _failed(step: str, error: BaseException, verbose: bool, code: int = 1) -> NoReturn:
    warn(f"[Step {step}] Failed")
    warn()
    if verbose:
        traceback.print_exception(error)
    else:
        warn(f"error: {_one_line(error)}")
    raise StepFailed(code) from error


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# --- the archive of --dump -------------------------------------------------------------------
class Dump:
    """A directory collecting files, zipped to ``PREFIX-<epoch>.zip`` at the end."""

    def __init__(self, prefix: str) -> None:
        self.epoch = int(time.time())
        self.prefix = prefix
        self.name = f"{Path(prefix).name}-{self.epoch}"
        parent = Path(prefix).resolve().parent
        if not parent.is_dir():
            raise click.UsageError(f"--dump {prefix}: directory {parent} does not exist")
        self.root = parent / f"{Path(prefix).name}-{self.epoch}{secrets.token_hex(4)}"
        (self.root / "compiler").mkdir(parents=True)
        (self.root / "runtime").mkdir()
        self.archive = Path(f"{prefix}-{self.epoch}.zip")

    def path(self, relative: str) -> Path:
        return self.root / relative

    def finish(self) -> Path:
        """Write the archive (atomically) and remove the directory."""
        fd, temporary = tempfile.mkstemp(prefix=f".{self.archive.name}.", dir=self.archive.resolve().parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(self.root.rglob("*")):
                    if path.is_file():
                        archive.write(path, f"{self.name}/{path.relative_to(self.root)}")
            os.replace(temporary, self.archive)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            shutil.rmtree(self.root, ignore_errors=True)
        return self.archive


def _version_dict(version: Any) -> dict[str, str]:
    return {"version": str(getattr(version, "version", version)), "stage": str(getattr(version, "stage", "")),
            "hash": str(getattr(version, "hash", ""))}


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            out[key] = value.strip().strip('"')
    return out


def meta(model_path: str, compiler: list[str]) -> dict[str, Any]:
    """What ``meta.yaml`` records (the vendor's keys, in the vendor's order)."""
    import onnx

    from furiosa.device import devices

    now = datetime.datetime.now().astimezone()
    try:
        version = subprocess.run([*compiler, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        version = f"unavailable ({error})"
    model: dict[str, Any] = {"filename": Path(model_path).name}
    with contextlib.suppress(OSError):
        data = Path(model_path).read_bytes()
        created = datetime.datetime.fromtimestamp(Path(model_path).stat().st_mtime).astimezone()
        model.update(size=len(data), md5=hashlib.md5(data).hexdigest(),
                     created_at={"datetime": created.strftime("%Y-%m-%d %H:%M:%S"), "timezone": str(created.tzinfo)})
    release = _os_release()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = 0
    cards = {}
    for device in devices():
        cards[device.name()] = {"serial_number": device.device_sn(), "uuid": device.device_uuid(),
                                "pci_dev": device.pci_dev(),
                                "firmware": {"version": sdk_version().version, "rev": sdk_version().hash[:7]}}
    return {
        "sdk": {"compiler": version, "runtime": _version_dict(_runtime_version()),
                "quantizer": _version_dict(_quantizer_version())},
        "environment": {"python": platform.python_version(), "glibc": " ".join(platform.libc_ver()),
                        "libonnxruntime": onnx.__version__, "datetime": now.strftime("%Y-%m-%d %H:%M:%S"),
                        "timezone": str(now.tzinfo)},
        "os": {"platform": platform.system(), "distrib": release.get("ID", ""),
               "distrib_release": release.get("VERSION_ID", ""), "kernel": platform.release()},
        "cpu": {"cores": os.cpu_count(), "memory": memory},
        "model": model,
        "devices": cards,
        "compiler_config": {},
    }


def _runtime_version() -> Any:
    try:
        from furiosa.runtime import __version__

        return __version__
    except ImportError:
        return sdk_version()


def _quantizer_version() -> Any:
    try:
        from furiosa.quantizer import __version__

        return __version__
    except ImportError:
        return sdk_version()


# --- the steps -------------------------------------------------------------------------------
def compiler_command() -> list[str]:
    """How to run ``furiosa-compiler`` (the installed script, else this package's module)."""
    from .main import find_tool

    path = shutil.which("furiosa-compiler")
    if path is None:
        beside = Path(sys.executable).parent / "furiosa-compiler"
        path = str(beside) if beside.is_file() else None
    if path is None:
        path = find_tool("compile")
    return [path] if path else [sys.executable, "-m", "furiosa.cli.compiler"]


def random_dataset(model: Any, count: int = CALIBRATION_SAMPLES, seed: int = 0) -> list[list[np.ndarray]]:
    """Calibration samples: N(0, 1) for float inputs, uniform over the range for integer inputs."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    initializers = {t.name for t in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if any(d is None or d <= 0 for d in dims):
            raise RuntimeError(f"The static shape of tensor '{value.name}' must be provided")
        specs.append((dims, np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))))
    samples = []
    for _ in range(count):
        sample = []
        for dims, dtype in specs:
            if dtype.kind == "f":
                sample.append(rng.standard_normal(dims).astype(dtype))
            elif dtype.kind in "iu":
                info = np.iinfo(dtype)
                sample.append(rng.integers(info.min, info.max, size=dims, dtype=dtype, endpoint=True))
            else:
                sample.append(np.zeros(dims, dtype))
        samples.append(sample)
    return samples


def step1(path: str, verbose: bool) -> Any:
    say("[Step 1] Checking if the model can be loaded and optimized ...")
    import onnx

    from furiosa.compiler.source import detect

    try:
        data = Path(path).read_bytes()
    except OSError as error:
        _failed("1", error, verbose)
    if detect(data) != "onnx":
        warn("[Step 1] ERROR: The input file should be a valid ONNX file")
        warn(f"error: {path} is a {detect(data).upper()} file; furiosa litmus takes ONNX models")
        raise StepFailed(1)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:
        warn("[Step 1] ERROR: The input file should be a valid ONNX file")
        warn(f"error: {_one_line(error)}")
        raise StepFailed(1) from error
    try:
        from furiosa.optimizer import optimize_model

        model = optimize_model(model)
    except Exception as error:
        _failed("1", error, verbose)
    say("[Step 1] Passed")
    return model


def step2(model: Any, workdir: Path, verbose: bool) -> Path:
    say("[Step 2] Checking if the model can be quantized ...")
    try:
        from furiosa.quantizer import CalibrationMethod, Calibrator, quantize

        calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
        calibrator.collect_data(random_dataset(model))
        ranges = calibrator.compute_range()
        quantized = quantize(model, ranges)
        target = workdir / "quantized_model.onnx"
        target.write_bytes(quantized if isinstance(quantized, bytes) else quantized.SerializeToString())
    except Exception as error:
        _failed("2", error, verbose)
    say("[Step 2] Passed")
    return target


def step3(model_path: Path | str, workdir: Path, target_npu: str, dump: Dump | None, verbose: bool) -> Path:
    say(f"[Step 3] Checking if the model can be compiled for the NPU family [{target_npu}] ...")
    output = workdir / "output.enf"
    command = [*compiler_command(), str(model_path), "--output", str(output), "--target-npu", target_npu]
    if dump is not None:
        command += ["--dot-graph", str(dump.path("compiler/model.dot")),
                    "--analyze-memory", str(dump.path("compiler/memory-analysis.html"))]
    if verbose:
        command.append("--verbose")
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        _failed("3", error, verbose)
    if dump is not None:
        dump.path("compiler/compiler.log").write_text(done.stderr + done.stdout)
    else:
        if done.stderr:
            sys.stderr.write(done.stderr)
        if done.stdout:
            sys.stdout.write(done.stdout)
        sys.stdout.flush()
        sys.stderr.flush()
    if done.returncode != 0:
        warn("[Step 3] Failed")
        warn()
        if dump is not None:
            lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
            if lines:
                warn(lines[-1])
        raise StepFailed(1)
    say("[Step 3] Passed")
    return output


def step4(enf_path: Path, target_npu: str, dump: Dump | None, verbose: bool) -> None:
    say("[Step 4] Perform inference once for data collection... (Optional)")
    try:
        from furiosa.runtime.bench import BenchConfig, BenchRunner
    except ImportError:
        warn("[Step 4] Skip, there is no furiosa-bench")
        return
    from furiosa.common import settings

    spec, source = settings.default_device_spec()
    devices = None if source != "default" else ("warboy(2)*1" if target_npu == "warboy-2pe" else "warboy(1)*1")
    trace = str(dump.path("runtime/trace.json")) if dump is not None else None
    try:
        config = BenchConfig(str(enf_path), devices=devices, trace_output=trace, verbose=verbose)
        asyncio.run(BenchRunner(config, "L").run())
    except Exception as error:  # FuriosaRuntimeError, RuntimeError, ValueError...
        _failed("4", error, verbose)
    say("[Step 4] Finished")


def litmus(model_path: str, dump_prefix: str | None, verbose: bool, skip_quantization: bool, target_npu: str) -> int:
    """Run the four steps; the exit status."""
    from furiosa.common.version import sdk_version as version

    warn(f"furiosa-quantizer {_quantizer_version().version} (rev. {version().hash[:9]}) "
         f"furiosa-litmus {version().version} (rev. {version().hash[:9]})")
    if not os.path.exists(model_path):
        warn(f"ERROR: {model_path} does not exist")
    dump = Dump(dump_prefix) if dump_prefix else None
    try:
        if dump is not None:
            import yaml

            dump.path("meta.yaml").write_text(yaml.safe_dump(meta(model_path, compiler_command()), sort_keys=False,
                                                             allow_unicode=True))
        with tempfile.TemporaryDirectory(prefix="furiosa-litmus-") as tmp:
            workdir = Path(tmp)
            if skip_quantization:
                say("[Step 1] Skip model loading and optimization")
                say("[Step 2] Skip model quantization")
                source: Path | str = model_path
            else:
                model = step1(model_path, verbose)
                source = step2(model, workdir, verbose)
            enf_path = step3(source, workdir, target_npu, dump, verbose)
            step4(enf_path, target_npu, dump, verbose)
        return 0
    except StepFailed as failure:
        return failure.code
    finally:
        if dump is not None:
            archive = dump.finish()
            warn(f"The dump has been saved to {archive}")


@click.command(context_settings={"help_option_names": []}, add_help_option=False)
@click.argument("model_path")
@click.option("--dump", "dump_prefix", metavar="OUTPUT_PREFIX", default=None)
@click.option("-v", "--verbose", is_flag=True)
@click.option("--skip-quantization", is_flag=True)
@click.option("--target-npu", type=click.Choice(TARGET_NPUS), default="warboy-2pe")
@click.option("-h", "--help", is_flag=True, expose_value=False, is_eager=True, callback=_print_help)
def command(model_path: str, dump_prefix: str | None, verbose: bool, skip_quantization: bool,
            target_npu: str) -> None:
    """Validate the model."""
    setup_output(verbose)
    sys.exit(litmus(model_path, dump_prefix, verbose, skip_quantization, target_npu))


def main(args: list[str] | None = None) -> None:
    """Entry point of ``furiosa-litmus``."""
    run(command, args, prog_name="furiosa-litmus")


if __name__ == "__main__":
    main()
