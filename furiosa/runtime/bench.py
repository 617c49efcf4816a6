"""furiosa.runtime.bench: the benchmark behind ``furiosa-bench`` and ``furiosa litmus`` step 4.

``BenchConfig`` and ``BenchRunner`` follow the vendor's signatures (spec/runtime-api.md §11.3).
A run opens a runner on the configured devices (compiling the model through the compiler cache
unless it is an ENF file), feeds it random inputs until both the minimum number of queries and
the minimum duration are reached, and reports:

* **measured** figures: wall-clock latency of every query and the queries per second achieved by
  the emulated device on this host;
* **modeled** figures: the NPU time the timing model gives one query on the real Warboy
  (``Executor.modeled_npu_ns``, split into computing and I/O wait) and the throughput that
  implies for the devices used. These estimate the hardware; they are never mixed with the
  measured ones.

Workloads: ``"L"`` (latency) keeps one query in flight at a time; ``"T"`` (throughput) keeps every
worker of every device busy (``worker_num`` x devices + ``io_thread_num`` queries in flight).
The report is printed on stdout, as the vendor's tool does; ``bench_result_path`` also gets it as
JSON (spec/toolchain-api.md §9).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from furiosa.common import files

__all__ = ["BenchConfig", "BenchResult", "BenchRunner", "WORKLOADS"]

WORKLOADS = {"L": "Latency", "T": "Throughput", "LATENCY": "Latency", "THROUGHPUT": "Throughput"}
RULE = "=" * 70
PERCENTILES = ((50, "50th percentile"), (95, "95th percentile"), (99, "99th percentile"),
               (99.9, "99.9th percentile"))


def _positive(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark and how (the vendor's parameter names and defaults)."""

    model_path: str
    io_thread_num: int = 1
    worker_num: int = 1
    devices: str | None = None
    batch_size: int | None = None
    min_query_count: int = 1
    min_duration: float = 0
    compiler_config: Mapping[str, Any] | None = None
    trace_output: str | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.model_path, (str, os.PathLike)):
            raise TypeError(f"model_path must be a path, got {type(self.model_path).__name__}")
        object.__setattr__(self, "model_path", os.fspath(self.model_path))
        _positive("io_thread_num", self.io_thread_num)
        _positive("worker_num", self.worker_num)
        if self.batch_size is not None:
            _positive("batch_size", self.batch_size)
        _positive("min_query_count", self.min_query_count)
        if isinstance(self.min_duration, bool) or not isinstance(self.min_duration, (int, float)) \
                or not self.min_duration >= 0:
            raise ValueError(f"min_duration must be a number of seconds >= 0, got {self.min_duration!r}")
        if self.compiler_config is not None and not isinstance(self.compiler_config, Mapping):
            raise TypeError(f"compiler_config must be a mapping, got {type(self.compiler_config).__name__}")


@dataclass(frozen=True)
class BenchResult:
    """Measured latencies (ns) of every query, and the modeled NPU time of one query."""

    mode: str
    batch_size: int
    total_ns: int
    latencies_ns: tuple[int, ...]
    target: str
    devices: tuple[str, ...]
    modeled_npu_ns: int
    modeled_comp_ns: int
    modeled_io_ns: int
    prepare_ns: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def queries(self) -> int:
        return len(self.latencies_ns)

    @property
    def qps(self) -> float:
        return self.queries / (self.total_ns / 1e9) if self.total_ns else 0.0

    def latency_us(self) -> dict[str, int]:
        """min, max, mean and percentiles in whole microseconds (linear interpolation)."""
        if not self.latencies_ns:
            return {k: 0 for k in ("min", "max", "mean", *(label for _, label in PERCENTILES))}
        us = np.asarray(self.latencies_ns, dtype=np.float64) / 1000.0
        stats = {"min": us.min(), "max": us.max(), "mean": us.mean()}
        for q, label in PERCENTILES:
            stats[label] = np.percentile(us, q)
        return {k: int(round(float(v))) for k, v in stats.items()}

    @property
    def modeled_qps(self) -> float:
        """Queries per second the modeled NPU time allows (one device at a time for latency)."""
        if not self.modeled_npu_ns:
            return 0.0
        parallel = 1 if self.mode == "Latency" else len(self.devices)
        return parallel * 1e9 / self.modeled_npu_ns

    def report(self) -> str:
        """The console report (the vendor's measured block, then the modeled block)."""
        s = self.latency_us()
        if self.mode == "Latency":
            intro = ("This benchmark was executed with latency-workload which prioritizes latency of "
                     "individual queries over throughput.")
        else:
            intro = ("This benchmark was executed with throughput-workload which prioritizes throughput "
                     "over latency of individual queries.")
        lines = [
            RULE, intro,
            f"{self.queries} queries executed with batch size {self.batch_size}",
            "Latency stats are as follows (measured: wall-clock time of the emulated device on this host)",
            f"QPS(Throughput): {self.qps:.2f}/s",
            "",
            "Per-query latency:",
            f"Min latency (us)    : {s['min']}",
            f"Max latency (us)    : {s['max']}",
            f"Mean latency (us)   : {s['mean']}",
            f"50th percentile (us): {s['50th percentile']}",
            f"95th percentile (us): {s['95th percentile']}",
            f"99th percentile (us): {s['99th percentile']}",
            f"99th percentile (us): {s['99.9th percentile']}",
            "",
            f"Modeled on Warboy ({self.target}, {len(self.devices)} device(s); timing model, not measured):",
            f"NPU time per query (us)    : {self.modeled_npu_ns / 1000:.1f}",
            f"  computing (us)           : {self.modeled_comp_ns / 1000:.1f}",
            f"  I/O wait (us)            : {self.modeled_io_ns / 1000:.1f}",
            f"QPS(Throughput) modeled    : {self.modeled_qps:.2f}/s",
            RULE,
        ]
        return "\n".join(lines)

    def to_json(self, model_path: str) -> dict[str, Any]:
        """The ``-o`` file: the vendor's keys, plus ``modeled`` and ``emulator`` sections."""
        from furiosa.common.version import compiler_version_string, emulator_version, git_hash

        s = self.latency_us()
        digest = _md5(model_path)
        return {
            "model_data": {"path": model_path, "md5": f"{digest}  {model_path}"},
            "compiler_version": compiler_version_string(),
            "hal_version": f"Version: emulated {emulator_version()}",
            "git_revision": git_hash()[:7],
            "result": {
                "mode": self.mode,
                "total run time": f"{self.total_ns // 1000} us",
                "total num queries": self.queries,
                "batch size": self.batch_size,
                "qps": f"{self.qps:.2f}/s",
                "latency stats": {
                    "min": f"{s['min']} us", "max": f"{s['max']} us", "mean": f"{s['mean']} us",
                    **{label: f"{s[label]} us" for _, label in PERCENTILES},
                },
                "measured": "wall-clock time of the emulated device on this host",
            },
            "modeled": {
                "what": "Warboy timing model estimate (not measured)",
                "target": self.target,
                "devices": list(self.devices),
                "npu time per query": f"{self.modeled_npu_ns / 1000:.1f} us",
                "computing per query": f"{self.modeled_comp_ns / 1000:.1f} us",
                "io wait per query": f"{self.modeled_io_ns / 1000:.1f} us",
                "qps": f"{self.modeled_qps:.2f}/s",
            },
            "emulator": {"datetime": datetime.datetime.now(datetime.timezone.utc).isoformat()},
        }


def _md5(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _tracing(path: str | None) -> Iterator[None]:
    """Record a Chrome trace of the run into ``path`` (through the profiler when it is installed)."""
    if path is None:
        yield
        return
    try:
        from furiosa.runtime.profiler import RecordFormat, profile
    except ImportError:
        profile = None
    if profile is not None:
        with open(path, "w") as handle, profile(file=handle, format=RecordFormat.ChromeTrace):
            yield
        return
    with _span_trace(path):
        yield


@contextlib.contextmanager
def _span_trace(path: str) -> Iterator[None]:
    """A Chrome trace of the runtime's profiler events (spec/runtime-api.md §12.4 event fields)."""
    from . import _tracing as tracing

    spans: list[Any] = []
    lock = threading.Lock()

    def sink(span: Any) -> None:
        with lock:
            spans.append(span)

    tracing.register(sink)
    try:
        yield
    finally:
        tracing.unregister(sink)
        pid = os.getpid()
        events = []
        lanes: dict[int, str] = {}
        for span in spans:
            npu = span.cat == "NPU"
            tid = (span.pe_index or 0) + 10000000 if npu else span.thread_id
            lanes[tid] = f"NPU {span.pe_index or 0}" if npu else f"0x{span.thread_id:x}"
            args = {"trace_id": f"{span.trace_id:032x}", "span_id": f"{span.span_id:016x}",
                    "parent_span_id": f"{span.parent_span_id:016x}", "start_ts": str(span.start),
                    "end_ts": str(span.end), "thread.id": str(span.thread_id)}
            for key in ("pe_index", "execution_index", "instruction_index", "operator_index"):
                value = getattr(span, key)
                if value is not None:
                    args[key] = str(value)
            if span.modeled:
                args["modeled"] = "true"
            events.append({"args": args, "cat": span.cat, "dur": span.dur / 1000.0, "name": span.name,
                           "ph": "X", "pid": pid, "tid": tid, "ts": span.start / 1000.0})
        for tid, name in sorted(lanes.items()):
            events.append({"args": {"name": name}, "name": "thread_name", "ph": "M", "pid": pid, "tid": tid})
        files.write_atomically(path, "[" + "\n,".join(json.dumps(e, sort_keys=True) for e in events) + "\n]")


class BenchRunner:
    """Runs one benchmark: ``await BenchRunner(config, "L").run(path)``; usable once."""

    def __init__(self, config: BenchConfig, workload: str = "L") -> None:
        if not isinstance(config, BenchConfig):
            raise TypeError(f"config must be a BenchConfig, got {type(config).__name__}")
        mode = WORKLOADS.get(str(workload).upper()) if isinstance(workload, str) else None
        if mode is None:
            raise ValueError(f"Invalid workload type: {workload!r}; use 'L' (latency) or 'T' (throughput)")
        self.config = config
        self.mode = mode
        self._used = False
        self._lock = threading.Lock()

    async def run(self, bench_result_path: str | None = None) -> BenchResult:
        """Run the benchmark, print the report, write the JSON result when a path is given."""
        return await asyncio.to_thread(self.run_sync, bench_result_path)

    def run_sync(self, bench_result_path: str | None = None, progress: bool = False) -> BenchResult:
        """:meth:`run`, blocking."""
        with self._lock:
            if self._used:
                raise RuntimeError("This BenchRunner is already used. BenchRunner can only be used once.")
            self._used = True
        result = self._measure(progress)
        print(result.report(), flush=True)
        if bench_result_path is not None:
            files.write_atomically(bench_result_path, json.dumps(result.to_json(self.config.model_path), indent=2) + "\n")
        return result

    # --- the measurement --------------------------------------------------------------------
    def _measure(self, progress: bool) -> BenchResult:
        from . import sync

        config = self.config
        started = time.perf_counter_ns()
        runner = sync.create_runner(config.model_path, device=config.devices, worker_num=config.worker_num,
                                    batch_size=config.batch_size,
                                    compiler_config=None if config.compiler_config is None
                                    else dict(config.compiler_config))
        try:
            prepared = time.perf_counter_ns() - started
            print(f"✨  Finished in {_seconds(prepared / 1e9)}", flush=True)
            engine = runner._engine
            executions = engine.executor.executions
            inputs = random_inputs(runner.model.inputs())
            batch = engine.program.batch_size
            in_flight = 1 if self.mode == "Latency" else config.worker_num * len(engine.devices) + config.io_thread_num
            with _tracing(config.trace_output):
                total, latencies = _drive(runner, inputs, in_flight, config.min_query_count, config.min_duration,
                                          progress)
            return BenchResult(
                mode=self.mode, batch_size=batch, total_ns=total, latencies_ns=tuple(latencies),
                target=engine.program.target, devices=tuple(d.name for d in engine.devices),
                modeled_npu_ns=engine.executor.modeled_npu_ns,
                modeled_comp_ns=sum(e.run_ns for e in executions),
                modeled_io_ns=sum(e.iowait_ns for e in executions),
                prepare_ns=prepared,
            )
        finally:
            runner.close()


def random_inputs(descs: Any, seed: int = 0) -> list[np.ndarray]:
    """One random array per input: uniform in [0, 1) for floats, the whole range for integers."""
    rng = np.random.default_rng(seed)
    arrays = []
    for desc in descs:
        dtype = np.dtype(desc.dtype.numpy)
        if dtype.kind == "f":
            arrays.append(rng.random(desc.shape).astype(dtype))
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=desc.shape, dtype=dtype, endpoint=True))
        else:
            arrays.append(np.zeros(desc.shape, dtype))
    return arrays


def _seconds(value: float) -> str:
    return np.format_float_positional(round(max(value, 0.0), 9), trim="-") + "s"


def _drive(runner: Any, inputs: list[np.ndarray], in_flight: int, min_queries: int, min_duration: float,
           progress: bool) -> tuple[int, list[int]]:
    """Run queries from ``in_flight`` threads until both minimums are met; (total ns, latencies)."""
    latencies: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    issued = 0
    deadline_ns = int(min_duration * 1e9)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=min_queries, unit="query", file=sys.stderr, leave=False, desc="Benchmarking")
    start = time.perf_counter_ns()

    def claim() -> bool:
        nonlocal issued
        with lock:
            if errors:
                return False
            if issued >= min_queries and time.perf_counter_ns() - start >= deadline_ns:
                return False
            issued += 1
            return True

    def loop() -> None:
        try:
            while claim():
                began = time.perf_counter_ns()
                runner.run(inputs)
                took = time.perf_counter_ns() - began
                with lock:
                    latencies.append(took)
                if bar is not None:
                    bar.update(1)
        except BaseException as error:  # reported by the caller
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=loop, name=f"bench-{i}", daemon=True) for i in range(max(1, in_flight))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter_ns() - start
    if bar is not None:
        bar.close()
    if errors:
        raise errors[0]
    return total, latencies
