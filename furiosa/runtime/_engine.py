"""The engine behind every runtime API: a model loaded on emulated devices.

An :class:`Engine` opens the devices of a device specification (exclusively), loads the model
(an ENF file as it is, anything else through the compiler for the devices' target), checks the
program against the devices, and runs inferences: at most ``worker_num`` at a time, on any
thread, each on one of its devices in turn. The sync runner and the legacy session run
inferences in the caller's thread; the async and queue APIs run them on worker threads
(:mod:`._workers`).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from furiosa.common import settings
from furiosa.common.errors import DeviceError, FuriosaError, IncompatibleProgramError
from furiosa.common.version import emulator_version
from furiosa.compiler import enf
from furiosa.compiler.source import detect, read_source
from furiosa.device import config as device_config
from furiosa.device import activity, inventory
from furiosa.device.emulator.events import Span, new_id, now_ns, thread_number
from furiosa.device.emulator import timing
from furiosa.device.emulator.executor import Executor
from furiosa.device.emulator.kernels.integer import backend as kernel_backend

from . import _tracing
from ._profiler import environment
from ._errors import SessionClosed, runtime_error, translate
from ._types import Model

log = logging.getLogger("furiosa.runtime")


def model_bytes(model: Any) -> "tuple[bytes | Path, str]":
    """A model source as bytes or a path, with a name for messages (spec §3)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), "<bytes>"
    if isinstance(model, (str, os.PathLike)):
        return Path(model), str(model)
    if hasattr(model, "__bytes__"):
        return bytes(model), "<bytes>"
    raise TypeError(f"'model' must be bytes, SupportsBytes, str, or Path but was {type(model)!r}")


def check_count(name: str, value: Any, allow_zero: bool = False) -> int | None:
    """Argument checks of the vendor's bindings for ``worker_num``, ``batch_size``, queue sizes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"argument '{name}': '{type(value).__name__}' object cannot be interpreted as an integer")
    if value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if value == 0 and not allow_zero:
        raise ValueError(f"argument '{name}' must be a positive integer, got 0")
    if value >= 2**31:
        raise ValueError(f"argument '{name}' must be smaller than 2**31, got {value}")
    return value


def check_device(device: Any) -> str:
    if device is None:
        spec, source = settings.default_device_spec()
        if source == "NPU_DEVNAME":
            log.warning("NPU_DEVNAME will be deprecated. Use FURIOSA_DEVICES instead.")
        return spec
    if not isinstance(device, str):
        raise TypeError(f"argument 'device': '{type(device).__name__}' object cannot be converted to 'PyString'")
    return device


def check_compiler_config(config: Any) -> dict | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise TypeError(f"argument 'compiler_config': '{type(config).__name__}' object cannot be converted to 'PyDict'")
    return config


def _compatible(program: enf.Program, target: str, origin: str) -> None:
    ours = emulator_version().split(".")[:2]
    theirs = program.compiler_version.split(".")[:2]
    if theirs != ours:
        raise IncompatibleProgramError(
            f"incompatible configuration: {origin} was compiled by furiosa-compiler {program.compiler_version}, "
            f"this runtime runs programs of furiosa-compiler {'.'.join(ours)}.x; recompile the model "
            "with this SDK's furiosa-compiler"
        )
    if program.target != target:
        raise IncompatibleProgramError(
            f"incompatible configuration: {origin} was compiled for {program.target} but the device is "
            f"{target} ({'two fused PEs' if target == 'warboy-2pe' else 'a single PE'}); recompile it with "
            f"furiosa-compiler --target-npu {target}, or open a "
            f"{'single-PE device such as warboy(1)*1' if program.target == 'warboy' else 'fused device such as warboy(2)*1'}"
        )


def load_program(model: Any, target: str, batch_size: int | None, compiler_config: dict | None) -> enf.Program:
    """The program for ``model`` on ``target``: read from ENF, or compiled."""
    source, origin = model_bytes(model)
    data, origin, base_dir = read_source(source)
    if detect(data) == "enf":
        program = enf.read(data, origin)
        if batch_size is not None or compiler_config:
            log.warning("The model is already compiled as ENF format. Both batch size and compiler config "
                        "won't be effective")
        _compatible(program, target, origin)
        return program
    from furiosa.compiler import cache

    started = time.perf_counter()
    program = cache.compile_data(data, origin, base_dir, target=target, batch_size=batch_size,
                                 config=compiler_config)
    log.info("the model compile is successful (took %.3f secs)", time.perf_counter() - started)
    return program


class Devices:
    """Device files opened exclusively by one runtime, and the compiler target they need."""

    def __init__(self, device: Any = None) -> None:
        self.spec = check_device(device)
        with translate():
            self._lease = inventory.open_devices(device_config.parse(self.spec))
            targets = {d.target for d in self._lease.devices}
            if len(targets) > 1:
                self._lease.release()
                raise DeviceError(
                    f"Fail to open NPU device: {self.spec} mixes single PEs and fused PEs; one runtime's "
                    "devices must all be single PEs or all fused pairs"
                )
        self.target = targets.pop()
        self.files = list(self._lease.devices)

    def release(self) -> None:
        self._lease.release()

    @property
    def held(self) -> bool:
        return self._lease.held


class Engine:
    """A model loaded on emulated devices, ready to run."""

    def __init__(self, model: Any, devices: Devices, *, worker_num: int | None = None,
                 batch_size: int | None = None, compiler_config: dict | None = None,
                 owns_devices: bool = False) -> None:
        workers = check_count("worker_num", worker_num) or 1
        batch = check_count("batch_size", batch_size)
        config = check_compiler_config(compiler_config)
        self._devices = devices
        self._owns_devices = owns_devices
        try:
            with translate():
                self._pace = settings.emulator_pace()  # FURIOSA_EMU_PACE: take at least the modeled time
                settings.emulator_threads()  # FURIOSA_EMU_THREADS: checked here rather than mid-inference
                kernel_backend()  # FURIOSA_EMU_KERNELS: likewise, rather than as an operator that cannot be prepared
                self.program = load_program(model, devices.target, batch, config)
                self.executor = Executor(self.program)
        except BaseException:
            if owns_devices:
                devices.release()
            raise
        self.devices = list(devices.files)
        executions = self.executor.executions  # modeled NPU time per inference, for furiosactl top
        self.activity = activity.Publisher([d.name for d in self.devices], sum(e.run_ns for e in executions),
                                           sum(e.iowait_ns for e in executions))
        self._env_trace = environment.attach()  # FURIOSA_PROFILER_OUTPUT_PATH: trace without code changes
        self.model = Model._make(self.program)
        self.worker_num = workers
        # One at a time is a plain lock (cheaper than a semaphore, which is written in Python).
        self._slots = threading.Lock() if workers == 1 else threading.BoundedSemaphore(workers)
        self._timelines = {d.name: timing.timeline(d.name) for d in self.devices}
        self._plain = self.program.batch_size == 1 and not self._pace
        self._lock = threading.Lock()  # counts and closes; _state is for waiting in close()
        self._state = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._turn = 0
        log.info("created %d NPU threads on %s", workers, ", ".join(d.address for d in self.devices))

    # --- state ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _enter(self) -> int:
        with self._lock:
            if self._closed:
                raise SessionClosed("Runner has been closed")
            self._in_flight += 1
            self._turn += 1
            return self._turn

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._closed:  # someone may wait in close()
                with self._state:
                    self._state.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new work, wait for running inferences, release the devices."""
        with self._state:
            with self._lock:
                self._closed = True
            done = self._state.wait_for(lambda: self._in_flight == 0, timeout)
        self.activity.close()
        trace, self._env_trace = self._env_trace, None
        if trace is not None:
            environment.detach(trace)
        if self._owns_devices:
            self._devices.release()
        return done

    # --- running --------------------------------------------------------------------------
    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One inference on checked arrays, in the calling thread (``worker_num`` at a time)."""
        turn = self._enter()
        try:
            with self._slots:
                return self._execute(arrays, turn)
        finally:
            self._leave()

    def _execute(self, arrays: Sequence[np.ndarray], turn: int) -> list[np.ndarray]:
        device = self.devices[turn % len(self.devices)]
        started = time.perf_counter_ns()
        try:
            sink = _tracing.active() if _tracing._sinks else None  # nobody records: no call
            if sink is None:
                if self._plain:  # batch 1, not paced: straight to the executor
                    return self.executor.run(arrays)
                return self._batched(arrays, None, 0, 0, device)
            trace_id, span_id, start = new_id(128), new_id(), now_ns()
            try:
                return self._batched(arrays, sink, trace_id, span_id, device)
            finally:
                sink(Span("Inference", "Runtime", start, now_ns(), thread_number(), trace_id, span_id))
        except FuriosaError as error:
            raise runtime_error(error) from error
        finally:
            self.activity.count(device.name, started)

    def _batched(self, arrays, sink, trace_id, span_id, device: inventory.DeviceFile) -> list[np.ndarray]:
        # The device's modeled timeline is shared by every runner and worker using it.
        name = device.name
        options = {"device": name, "timeline": self._timelines[name], "pace": self._pace}
        batch = self.program.batch_size
        if batch == 1:
            return self.executor.run(arrays, sink, trace_id, span_id, device.cores[0], **options)
        parts = [np.split(a, batch, axis=0) for a in arrays]
        results = self.executor.run_batch([[p[i] for p in parts] for i in range(batch)], sink, trace_id, span_id,
                                          device.cores[0], **options)
        return [np.concatenate([r[j] for r in results], axis=0) for j in range(len(results[0]))]

    def __del__(self) -> None:
        if getattr(self, "_owns_devices", False):
            self._devices.release()

