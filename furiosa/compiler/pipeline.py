"""The compiler: a model source in, an ENF program out.

The stages, in order (each a function over the graph, see :mod:`.passes`):

1. frontend: read the ONNX model, fix static shapes, translate (QOperator ops expanded);
2. ``fold_constants``: evaluate what does not depend on the inputs;
3. ``apply_calibration``: quantize a float model by its ``FurisoaAI`` metadata;
4. ``fuse_qdq``: dequantize → op → quantize chains become int8 kernels;
5. ``convert_inputs`` / ``convert_outputs``: ModelEditor's uint8 inputs and int8 outputs;
6. ``partition``: NPU or host for every node, with the reason;
7. I/O plan (``permute_input``, ``remove_lower``, ``remove_unlower``) and Lower / Unlower;
8. emission: scheduling, host subgraphs, costs, program sizes, memory plan; the program of a PE
   must fit its instruction memory unless ``use_program_loading`` is set (:mod:`.program_size`).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from furiosa.common.errors import (CompilerWarning, FuriosaError, InvalidConfigError, InvalidModelError,
                                   UnsupportedModelError, warn_user)
from furiosa.quantizer.metadata import Calibration

from . import edges, enf, program_size
from .config import CompilerConfig
from .emit import emit
from .frontend.onnx import read_model, to_graph
from .ir import Graph, shape_text
from .memory import DRAM_BYTES
from .partition import partition
from .passes import Context, run
from .passes.calibrate import apply_calibration
from .passes.fold_constants import fold_constants
from .passes.fuse_qdq import fuse_qdq
from .source import detect, read_source

log = logging.getLogger("furiosa.compiler")

TARGETS = enf.TARGETS
DEFAULT_TARGET = "warboy-2pe"

GRAPH_PIPELINE = (fold_constants, apply_calibration, fuse_qdq)


def _check_options(target: str, batch_size: Any) -> int:
    if target not in TARGETS:
        raise InvalidConfigError(f"unknown target NPU {target!r}; possible values: {', '.join(TARGETS)}")
    if batch_size is None:
        return 1
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidConfigError(f"batch size must be a positive integer, got {batch_size!r}")
    return batch_size


def _config(config: "CompilerConfig | Mapping[str, Any] | None") -> CompilerConfig:
    if isinstance(config, CompilerConfig):
        return config
    return CompilerConfig.from_mapping(config)


def _check_sizes(graph: Graph, batch_size: int) -> None:
    """Every tensor of a batch must fit the device's DRAM (refused before anything allocates it)."""
    for value in graph.values.values():
        count = math.prod(value.shape) * (1 if value.is_const else batch_size)
        size = count * np.dtype(value.dtype).itemsize
        if size > DRAM_BYTES:
            batch = f" with batch size {batch_size}" if batch_size > 1 and not value.is_const else ""
            raise UnsupportedModelError(
                f"tensor {value.name!r} of shape {shape_text(value.shape)}{batch} needs {size / 2**30:.4g} GiB, more "
                f"than the {DRAM_BYTES // 2**30} GiB DRAM of a Warboy device"
            )


def _calibration(graph: Graph) -> Calibration | None:
    try:
        return Calibration.from_metadata(graph.metadata) if graph.metadata else None
    except ValueError as error:
        detail = " ".join(str(error).split())
        raise InvalidModelError(f"the model's calibration metadata is malformed: {detail}") from None


def compile_graph(graph: Graph, target: str, batch_size: int, config: CompilerConfig,
                  source_format: str) -> enf.Program:
    _check_sizes(graph, batch_size)
    calibration = _calibration(graph)
    context = Context(target, config, calibration)
    context.batch_size = batch_size  # type: ignore[attr-defined]
    run(graph, GRAPH_PIPELINE, context)
    edges.convert_inputs(graph, context)
    edges.convert_outputs(graph, context)
    partition(graph, context)
    if config.permute_input and config.remove_lower:
        raise InvalidConfigError("permute_input and remove_lower cannot be combined: a lowered input has no axes to permute")
    plan = edges.plan_io(graph, context)
    edges.insert_layout(graph, plan)
    if source_format == "onnx" and calibration is None and all(n.op == "onnx" for n in graph.nodes):
        message = (
            f"the model has no quantization parameters: all {len(graph.nodes)} operators run on the host "
            "in float32; calibrate and quantize it (furiosa.quantizer) to run it on the NPU"
        )
        graph.warnings.append(message)
        warn_user(message, CompilerWarning)
    if calibration is not None and calibration.ranges:
        source_format = "onnx+calibration"
    program = emit(graph, plan, target, batch_size, config.to_mapping(), source_format)
    program_size.check(program.operators, target, config.use_program_loading)
    return enf.verify(program)


def compile_program(source: "str | Path | bytes", *, target: str = DEFAULT_TARGET, batch_size: int | None = None,
                    config: "CompilerConfig | Mapping[str, Any] | None" = None) -> enf.Program:
    """Compile a model source (path or bytes: ONNX, quantize() output, or ENF) to a program."""
    data, origin, base_dir = read_source(source)
    return compile_data(data, origin, base_dir, target=target, batch_size=batch_size, config=config)


def compile_data(data: bytes, origin: str = "<bytes>", base_dir: Path | None = None, *,
                 target: str = DEFAULT_TARGET, batch_size: int | None = None,
                 config: "CompilerConfig | Mapping[str, Any] | None" = None) -> enf.Program:
    """Compile model bytes; ``base_dir`` is where an ONNX model's external data files are.

    Every failure is one of :mod:`furiosa.common.errors`: an unexpected exception of a stage (a
    malformed model no check anticipated) becomes an :class:`UnsupportedModelError` naming it.
    """
    batch = _check_options(target, batch_size)
    cfg = _config(config)
    try:
        return _compile_data(data, origin, base_dir, target, batch, batch_size, cfg)
    except FuriosaError:
        raise
    except Exception as error:
        detail = " ".join(str(error).split()) or repr(error)
        raise UnsupportedModelError(
            f"{origin} cannot be compiled: {type(error).__name__}: {detail}; the model is probably malformed "
            "(if onnxruntime runs it, this is a compiler bug worth reporting)"
        ) from error


def _compile_data(data: bytes, origin: str, base_dir: Path | None, target: str, batch: int,
                  batch_size: int | None, cfg: CompilerConfig) -> enf.Program:
    kind = detect(data)
    if kind == "enf":
        program = enf.read(data, origin)
        if batch_size is not None or cfg.to_mapping():
            log.warning("The model is already compiled as ENF format. Both batch size and compiler config "
                        "won't be effective")
        return program
    if kind == "tflite":
        from .frontend import tflite

        return compile_graph(tflite.to_graph(tflite.read_model(data, origin), origin), target, batch, cfg, "tflite")
    if kind == "dfg":
        raise UnsupportedModelError(
            f"{origin} is a Furiosa DFG file written by the 0.9 quantizer; recompile from the ONNX model instead"
        )
    model = read_model(data, origin, base_dir)
    graph = to_graph(model, origin)
    return compile_graph(graph, target, batch, cfg, "onnx")


def compile_bytes(source: "str | Path | bytes", **options: Any) -> bytes:
    """Compile a model source to ENF bytes."""
    return enf.write(compile_program(source, **options))
