"""Bad models end in a documented error with a clear message, within a time limit, through every
way in: the compiler API, the compiler cache, the runtime (sync, asyncio, legacy) and
``furiosa-compiler``. Nothing is left behind: no cache entry (and the cache still works), no
output or temporary file, the previous output untouched, the device released.
"""
from __future__ import annotations

import asyncio
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from furiosa.common.errors import FuriosaError, InvalidModelError, UnsupportedModelError
from furiosa.compiler import cache, enf
from furiosa.compiler.pipeline import compile_data
from furiosa.runtime import errors as rt_errors

from .conftest import TIME_LIMIT, cache_entries, error_line, leftovers, refused, tool, within
from .corpus import CASES, Case, qdq_cnn, tflite_network

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def good_enf() -> bytes:
    """A valid program for the default device (fused PEs)."""
    return enf.write(compile_data(qdq_cnn()))


def compile_quietly(data: bytes, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile_data(data, **options)


# --- the compiler API and its cache ------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_compiler_refuses_with_a_documented_error(case: Case):
    data = case.build()
    with within(TIME_LIMIT, case.id), pytest.raises(FuriosaError) as info:
        compile_quietly(data)
    assert isinstance(info.value, case.error), (type(info.value), info.value)
    refused(info.value, *case.words)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_refused_model_leaves_no_cache_entry(case: Case, cache_dir):
    """Through the cache (as the runtime and the CLI compile): same error, nothing stored, and the
    cache keeps working for the next model."""
    with within(TIME_LIMIT, case.id), pytest.raises(case.error):
        cache.compile_cached(case.build())
    assert cache_entries(cache_dir) == {}
    assert not cache.compile_cached(qdq_cnn()).cached
    assert cache.compile_cached(qdq_cnn()).cached
    assert len(cache_entries(cache_dir)) == 1


# --- the runtime ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_runtime_reports_compilation_failed_and_releases_the_device(case: Case, devices, cache_dir, good_enf):
    from furiosa.runtime import sync

    with within(TIME_LIMIT, case.id), pytest.raises(rt_errors.CompilationFailed) as info:
        sync.create_runner(case.build())
    assert isinstance(info.value, rt_errors.FuriosaRuntimeError)
    assert str(info.value).startswith("Compilation error: ")
    refused(info.value, *case.words)
    assert isinstance(info.value.__cause__, case.error)  # the compiler's error is chained
    assert cache_entries(cache_dir) == {}
    with sync.create_runner(good_enf) as runner:  # the device was released
        assert runner.model.input_num == 1


def test_every_runtime_api_reports_the_same_error(devices, cache_dir, good_enf):
    from furiosa.runtime import create_queue, create_runner, session, sync

    bad = next(c for c in CASES if c.id == "huge-input").build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for make in (lambda: sync.create_runner(bad), lambda: sync.create_queue(bad), lambda: session.create(bad),
                     lambda: session.create_async(bad), lambda: asyncio.run(_await(create_runner(bad))),
                     lambda: asyncio.run(_await(create_queue(bad)))):
            with within(TIME_LIMIT), pytest.raises(rt_errors.CompilationFailed, match="16 GiB"):
                make()
    with sync.create_runner(good_enf):
        pass


async def _await(future):
    return await future


@pytest.mark.parametrize("batch", [10**7, 2**40])
def test_a_batch_that_cannot_fit_the_device_is_refused(batch, devices, cache_dir):
    from furiosa.runtime import sync

    with within(TIME_LIMIT), pytest.raises(UnsupportedModelError) as info:
        compile_quietly(qdq_cnn(), batch_size=batch)
    refused(info.value, "16 GiB", f"batch size {batch}")
    if batch < 2**31:
        with within(TIME_LIMIT), pytest.raises(rt_errors.CompilationFailed, match="16 GiB"):
            sync.create_runner(qdq_cnn(), batch_size=batch)
    else:  # the bindings' argument check comes first
        with pytest.raises(ValueError, match="smaller than 2"):
            sync.create_runner(qdq_cnn(), batch_size=batch)
    assert cache_entries(cache_dir) == {}


# --- what is accepted, and must then be right -------------------------------------------------------------
def test_declared_shapes_that_contradict_the_operators_give_way_to_the_computed_ones():
    """An input's batch edited without the rest (value_info and outputs still say 1): the program
    describes and produces the computed shapes, with a warning, as onnxruntime runs it."""
    from furiosa.device.emulator.executor import Executor

    from .corpus import load

    model = load(qdq_cnn())
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 3
    program = compile_quietly(model.SerializeToString())
    assert any("declares disagree" in w and "computed" in w for w in program.warnings), program.warnings
    assert [io.shape for io in program.inputs] == [(3, 3, 16, 16)]
    assert [io.shape for io in program.outputs] == [(3, 10)]
    image = np.random.default_rng(0).random((3, 3, 16, 16), dtype=np.float32)
    outputs = Executor(program).run([image])
    assert [o.shape for o in outputs] == [(3, 10)]
    reference = Executor(compile_quietly(qdq_cnn())).run([image[1:2]])
    assert np.array_equal(outputs[0][1:2], reference[0])


def test_a_quantized_weight_read_by_a_float_operator(devices, cache_dir):
    """DequantizeLinear of a constant feeding an operator that stays float (no quantized input):
    the weight is dequantized at compile time (it used to fail every inference)."""
    from onnx import helper, numpy_helper

    from furiosa.runtime import sync

    from .corpus import graph_model, tensor

    weight = np.arange(12, dtype=np.int8).reshape(3, 4)
    nodes = [helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["w"]), helper.make_node("MatMul", ["x", "w"], ["y"])]
    data = graph_model(nodes, [tensor("x", [2, 3])], [tensor("y", [2, 4])],
                       [numpy_helper.from_array(weight, "wq"), numpy_helper.from_array(np.float32(0.5), "s"),
                        numpy_helper.from_array(np.int8(0), "z")])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with sync.create_runner(data) as runner:
            (y,) = runner.run([x])
    assert np.array_equal(y, x @ (weight.astype(np.float32) * 0.5))


# --- damaged files: truncation and bit flips -------------------------------------------------------------
def damaged_versions(data: bytes, seed: int, flips: int = 24, cuts: int = 12) -> list[tuple[str, bytes]]:
    """``data`` cut at spread positions and with single bytes flipped at random positions."""
    rng = np.random.default_rng(seed)
    out = [(f"cut{n}", data[:n]) for n in sorted({1, 8, 16, len(data) - 1, *rng.integers(1, len(data), cuts)})]
    for position in rng.integers(0, len(data), flips):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(0, 8))
        out.append((f"flip{position}", bytes(damaged)))
    return out


def _enf() -> bytes:
    return enf.write(compile_quietly(qdq_cnn()))


SOURCES = {"onnx": qdq_cnn, "enf": _enf, "tflite": tflite_network}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_damaged_files_are_refused_or_compile_never_poisoning_the_cache(kind, cache_dir):
    """Every truncated or bit-flipped file: a documented error, or (when the damage hit weights or
    padding) a program that runs. The cache holds only valid entries afterwards."""
    from furiosa.device.emulator.executor import Executor

    original = SOURCES[kind]()
    outcomes = {"refused": 0, "compiled": 0}
    for label, data in damaged_versions(original, seed=len(kind)):
        with within(TIME_LIMIT, f"{kind} {label}"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    program = cache.compile_cached(data).program
            except FuriosaError as error:
                refused(error)
                outcomes["refused"] += 1
                continue
            outcomes["compiled"] += 1
            inputs = [np.zeros(io.shape, io.dtype) for io in program.inputs]
            try:
                outputs = Executor(program).run(inputs)
            except FuriosaError as error:  # e.g. a damaged attribute only the kernel can reject
                refused(error)
                continue
            assert [o.shape for o in outputs] == [io.shape for io in program.outputs]
    if kind == "enf":  # the ENF file's SHA-256 catches every damage
        assert outcomes["compiled"] == 0
    assert outcomes["refused"] > 0
    entries = cache_entries(cache_dir)  # every entry whole and valid
    assert kind != "enf" or not entries  # ENF sources are never cached


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_damaged_files_through_the_runtime(kind, devices, cache_dir, good_enf):
    from furiosa.runtime import sync

    original = SOURCES[kind]()
    for label, data in damaged_versions(original, seed=7, flips=0, cuts=4)[:6]:
        with within(TIME_LIMIT, label), pytest.raises(rt_errors.FuriosaRuntimeError) as info:
            sync.create_runner(data)
        assert isinstance(info.value, (rt_errors.CompilationFailed, rt_errors.IncompatibleModel)), info.value
        refused(info.value)
    with sync.create_runner(good_enf):
        pass
    cache_entries(cache_dir)


# --- the command line -------------------------------------------------------------------------------------
def _cli_cases() -> list[tuple[str, bytes, tuple[str, ...]]]:
    cases = [(c.id, c.build(), c.words) for c in CASES]
    for kind in sorted(SOURCES):
        original = SOURCES[kind]()
        cases += [(f"{kind}-{label}", data, ()) for label, data in damaged_versions(original, 3, flips=0, cuts=2)[:3]]
    return cases


def test_the_compiler_command_fails_in_one_line_leaving_nothing_behind(tmp_path, cli_env):
    """Every corpus case through ``furiosa-compiler`` (run four at a time): exit status 1, one
    ``error:`` line naming the problem, no output, DOT or memory file, no temporary file, an
    existing output left as it was, an empty cache."""
    binary = tool("furiosa-compiler")
    jobs = []
    for index, (name, data, words) in enumerate(_cli_cases()):
        workdir = tmp_path / f"case{index}"
        workdir.mkdir()
        (workdir / "model.bin").write_bytes(data)
        (workdir / "previous.enf").write_bytes(b"the previous output")
        jobs.append((name, words, workdir))
    results = {}
    pending = list(jobs)
    running: list[tuple[str, tuple[str, ...], Path, subprocess.Popen]] = []
    with within(TIME_LIMIT * 6, "the command-line corpus"):
        while pending or running:
            while pending and len(running) < 4:
                name, words, workdir = pending.pop(0)
                command = [binary, "model.bin", "-o", "previous.enf", "--dot-graph", "graph.dot",
                           "--analyze-memory", "memory.html"]
                running.append((name, words, workdir, subprocess.Popen(
                    command, cwd=workdir, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            name, words, workdir, process = running.pop(0)
            out, err = process.communicate(timeout=TIME_LIMIT * 3)
            results[name] = (words, workdir, subprocess.CompletedProcess(process.args, process.returncode, out, err))
    for name, (words, workdir, result) in results.items():
        line = error_line(result)
        for word in words:
            assert word.lower() in line.lower(), (name, line)
        assert (workdir / "previous.enf").read_bytes() == b"the previous output", name
        assert leftovers(workdir, "graph.dot", "memory.html") == [], name
    assert cache_entries(Path(cli_env["FC_CACHE_STORE_URL"])) == {}


def test_the_compiler_command_refuses_a_huge_batch_without_allocating(tmp_path, cli_env):
    model = tmp_path / "model.onnx"
    model.write_bytes(qdq_cnn())
    with within(TIME_LIMIT):
        result = subprocess.run([tool("furiosa-compiler"), str(model), "-o", "out.enf", "-b", str(2**40)],
                                cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=TIME_LIMIT * 3)
    assert "16 GiB" in error_line(result)
    assert leftovers(tmp_path, "out.enf") == []


def test_a_model_that_is_not_there(tmp_path, cli_env):
    for source, words in ((tmp_path / "absent.onnx", "no such file"), (tmp_path, "directory"),
                          (tmp_path / "empty.onnx", "empty")):
        if source.name == "empty.onnx":
            source.write_bytes(b"")
        result = subprocess.run([tool("furiosa-compiler"), str(source), "-o", str(tmp_path / "out.enf")],
                                env=cli_env, capture_output=True, text=True, timeout=TIME_LIMIT * 3)
        assert words in error_line(result)
        assert not (tmp_path / "out.enf").exists()
    with pytest.raises(InvalidModelError, match="no such file"):
        from furiosa.compiler.pipeline import compile_program

        compile_program(tmp_path / "absent.onnx")
