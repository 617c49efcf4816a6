"""Soak: sustained traffic through the queue and asyncio APIs, several workers each, on distinct
emulated devices, while other runners are opened and closed again and again. Every output is
checked against a single-threaded run of the same program; memory (RSS), threads and file
descriptors must not grow once warmed up.

Runs for ``FURIOSA_SOAK_SECONDS`` (default 60; ``--soak-seconds N`` when running
tests/reliability). ``FURIOSA_SOAK_REPORT=path`` writes the measurements as JSON.
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from furiosa.compiler import enf
from furiosa.compiler.pipeline import compile_data
from furiosa.device.emulator.executor import Executor

from .conftest import soak_seconds
from .corpus import qdq_cnn

SHAPE = (1, 3, 16, 16)
POOL = 64
RSS_GROWTH = 0.05


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def native_threads() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def python_threads() -> int:
    """Threads of this process but the emulator's kernel helpers (one team per process, started on first use)."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith("furiosa-kernel-"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class Tally:
    """What the traffic did; shared by every driver (guarded by ``lock``)."""

    done: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, api: str, index: int, outputs, expected) -> None:
        same = len(outputs) == len(expected[index]) and all(
            np.array_equal(np.asarray(a), b) for a, b in zip(outputs, expected[index]))
        with self.lock:
            self.done[api] = self.done.get(api, 0) + 1
            if not same and len(self.mismatches) < 10:
                self.mismatches.append(f"{api} request {index}")

    def error(self, api: str, error: BaseException) -> None:
        with self.lock:
            if len(self.errors) < 10:
                self.errors.append(f"{api}: {type(error).__name__}: {error}")


def _pump(name: str, submitter, results, close_results, check, stop: threading.Event, images) -> None:
    """Submit the image pool round and round until ``stop``, checking every result on a reader thread."""

    def receive() -> None:
        for context, outputs in results:
            check(context, outputs)

    reader = threading.Thread(target=receive, name=f"soak-{name}-reader")
    reader.start()
    try:
        index = 0
        while not stop.is_set():
            submitter.submit([images[index % POOL]], context=index % POOL)
            index += 1
    finally:
        submitter.close()
        reader.join()
        close_results()


def _sync_queue(program: bytes, device: str, stop: threading.Event, tally: Tally, images, expected) -> None:
    from furiosa.runtime import sync

    submitter, receiver = sync.create_queue(program, device=device, worker_num=3, input_queue_size=32)
    _pump("queue", submitter, receiver, receiver.close,
          lambda context, outputs: tally.check("queue", context, outputs, expected), stop, images)


def _legacy_queue(program: bytes, device: str, stop: threading.Event, tally: Tally, images, expected) -> None:
    from furiosa.runtime import session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        submitter, queue = session.create_async(program, device=device, worker_num=2, input_queue_size=32)
    _pump("legacy", submitter, queue, queue.close,
          lambda context, outputs: tally.check("legacy", context, outputs.numpy(), expected), stop, images)


def _async_apis(program: bytes, devices: tuple[str, str], stop: threading.Event, tally: Tally, images,
                expected) -> None:
    from furiosa.runtime import create_queue, create_runner

    async def runner_clients() -> None:
        async with create_runner(program, device=devices[0], worker_num=3) as runner:
            async def client(offset: int) -> None:
                index = offset
                while not stop.is_set():
                    tally.check("async runner", index % POOL, await runner.run([images[index % POOL]]), expected)
                    index += 7
            await asyncio.gather(*(client(i) for i in range(8)))

    async def queue_clients() -> None:
        async with create_queue(program, device=devices[1], worker_num=3, input_queue_size=32) as (submitter,
                                                                                                  receiver):
            async def feed() -> None:
                index = 0
                while not stop.is_set():
                    await submitter.submit([images[index % POOL]], context=index % POOL)
                    index += 1
                await submitter.close()

            async def drain() -> None:
                async for context, outputs in receiver:
                    tally.check("async queue", context, outputs, expected)

            await asyncio.gather(feed(), drain())

    async def main() -> None:
        await asyncio.gather(runner_clients(), queue_clients())

    asyncio.run(main())


def _churn(program: bytes, device: str, stop: threading.Event, tally: Tally, images, expected) -> None:
    """Runners opened, used once and closed, over and over (leaks of open/close show up here)."""
    from furiosa.runtime import sync

    index = 0
    while not stop.is_set():
        with sync.create_runner(program, device=device, worker_num=2) as runner:
            tally.check("churn", index % POOL, runner.run([images[index % POOL]]), expected)
        submitter, receiver = sync.create_queue(program, device=device, worker_num=2)
        with submitter, receiver:
            submitter.submit([images[index % POOL]], context=index % POOL)
            context, outputs = receiver.recv(timeout=30)
            tally.check("churn", context, outputs, expected)
        index += 1
        time.sleep(0.05)


def _guarded(target, api: str, tally: Tally):
    def run(*args) -> None:
        try:
            target(*args)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            tally.error(api, error)
    return run


def test_soak(devices, cache_dir, monkeypatch, capsys):
    duration = soak_seconds()
    warmup = max(5.0, duration * 0.25)
    monkeypatch.setenv("FURIOSA_EMU_NPUS", "5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = compile_data(qdq_cnn())
    data = enf.write(program)
    rng = np.random.default_rng(2024)
    images = [rng.random(SHAPE, dtype=np.float32) for _ in range(POOL)]
    reference = Executor(program)
    expected = [reference.run([image]) for image in images]  # single-threaded, one at a time

    gc.collect()
    threads_before = python_threads()
    stop = threading.Event()
    tally = Tally()
    drivers = [
        threading.Thread(target=_guarded(_sync_queue, "queue", tally), name="soak-queue",
                         args=(qdq_cnn(), "npu:0:0-1", stop, tally, images, expected)),
        threading.Thread(target=_guarded(_async_apis, "async", tally), name="soak-async",
                         args=(data, ("npu:1:0-1", "npu:2:0-1"), stop, tally, images, expected)),
        threading.Thread(target=_guarded(_legacy_queue, "legacy", tally), name="soak-legacy",
                         args=(data, "npu:3:0-1", stop, tally, images, expected)),
        threading.Thread(target=_guarded(_churn, "churn", tally), name="soak-churn",
                         args=(data, "npu:4:0-1", stop, tally, images, expected)),
    ]
    started = time.monotonic()
    for driver in drivers:
        driver.start()
    samples: list[tuple[float, int, int, int, int]] = []
    try:
        while time.monotonic() - started < duration and not tally.errors:
            time.sleep(1.0)
            samples.append((time.monotonic() - started, rss_bytes(), python_threads(), native_threads(),
                            open_fds()))
    finally:
        stop.set()
        for driver in drivers:
            driver.join(120)
    hung = [d.name for d in drivers if d.is_alive()]
    gc.collect()
    after = (rss_bytes(), python_threads(), native_threads(), open_fds())

    warm = [s for s in samples if s[0] >= warmup]
    assert len(warm) >= 3, f"too few samples after the warm-up ({len(samples)} in all)"
    # the reference is the highest RSS of the first seconds after the warm-up, the end the last samples
    window = max(3, len(warm) // 10)
    baseline = max(s[1] for s in warm[:window])
    final = min(s[1] for s in warm[-window:])
    growth = final / baseline - 1
    report = {
        "seconds": round(time.monotonic() - started, 1), "warmup_seconds": warmup, "requests": dict(tally.done),
        "rss_mb": {"first": round(samples[0][1] / 2**20, 1), "after_warmup": round(baseline / 2**20, 1),
                   "end": round(final / 2**20, 1), "peak": round(max(s[1] for s in samples) / 2**20, 1),
                   "after_close": round(after[0] / 2**20, 1)},
        "rss_growth_after_warmup": round(growth, 4),
        "python_threads": {"before": threads_before, "after_warmup": warm[0][2], "end": warm[-1][2],
                           "after_close": after[1]},
        "native_threads": {"after_warmup": warm[0][3], "end": warm[-1][3], "after_close": after[2]},
        "open_fds": {"after_warmup": warm[0][4], "end": warm[-1][4], "after_close": after[3]},
    }
    with capsys.disabled():
        print("\nsoak:", json.dumps(report))
    if os.environ.get("FURIOSA_SOAK_REPORT"):
        with open(os.environ["FURIOSA_SOAK_REPORT"], "w") as out:
            json.dump({**report, "samples": samples}, out, indent=1)

    assert not hung, f"drivers did not stop: {hung}"
    assert not tally.errors, tally.errors
    assert not tally.mismatches, tally.mismatches
    assert all(tally.done.get(api, 0) > 0 for api in ("queue", "async runner", "async queue", "legacy", "churn")), \
        tally.done
    assert growth <= RSS_GROWTH, f"RSS grew by {growth:.1%} after the warm-up: {report['rss_mb']}"
    # runners come and go (the churn), so counts move while they live; what must not happen is a
    # floor that rises (threads or descriptors left behind by closed runners)
    first, last = warm[:window], warm[-window:]
    assert min(s[2] for s in last) <= min(s[2] for s in first), f"Python threads grew: {report['python_threads']}"
    assert min(s[3] for s in last) <= min(s[3] for s in first), f"native threads grew: {report['native_threads']}"
    assert min(s[4] for s in last) <= min(s[4] for s in first) + 2, f"file descriptors grew: {report['open_fds']}"
    assert after[1] == threads_before, "threads are left after every runner closed"
