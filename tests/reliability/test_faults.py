"""Faults: a compilation killed midway, the Redis cache going away, a kernel failing inside the
emulator, and runners closed during traffic. Nothing is half-written, the next compilation
works, failures stay with the request that met them, and every waiter ends.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from furiosa.compiler import cache, enf
from furiosa.compiler.pipeline import compile_data
from furiosa.runtime import errors as rt_errors

from .conftest import TIME_LIMIT, cache_entries, leftovers, tool, within
from .corpus import qdq_cnn

SHAPE = (1, 3, 16, 16)


@functools.lru_cache(maxsize=None)
def big_model() -> bytes:
    """A calibrated MobileNet-v2 (14 MB): a compilation long enough to be killed at any stage."""
    from examples.zoo import mobilenet_v2, nominal_calibration

    return nominal_calibration(mobilenet_v2(size=96)).SerializeToString()


def compile_quietly(data: bytes) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return enf.write(compile_data(data))


# --- a compilation killed midway --------------------------------------------------------------------------------
def _check_after_kill(workdir: Path, cache_path: Path, reference: bytes) -> str:
    """What a killed ``furiosa-compiler`` may leave: the finished output or nothing, whole cache
    entries, and at most the hidden temporary file it was writing (the next run removes it)."""
    output = workdir / "out.enf"
    state = "finished" if output.exists() else "nothing"
    if output.exists():
        assert output.read_bytes() == reference, "a half-written ENF file"
    for directory in (workdir, cache_path):
        for path in directory.iterdir() if directory.exists() else ():
            if path.name.endswith(".part"):
                assert path.name.startswith("."), path
                state = "killed while writing"
            else:
                assert path.name in ("out.enf", "model.onnx", "locks") or path.suffix == ".enfc", path
    for entry in cache_path.glob("*.enfc"):  # whole, valid entries only
        data = entry.read_bytes()
        cache.decode_entry(data, str(entry))
        assert data[cache.ENTRY_HEADER.size:] == reference
    return state


def test_sigkill_at_random_moments_leaves_nothing_half_written(tmp_path, cli_env):
    binary = tool("furiosa-compiler")
    reference = compile_quietly(big_model())
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "model.onnx").write_bytes(big_model())
    cache_path = Path(cli_env["FC_CACHE_STORE_URL"])
    command = [binary, "model.onnx", "-o", "out.enf"]

    started = time.monotonic()  # one whole run, to know when to kill (then a clean slate)
    subprocess.run(command, cwd=workdir, env=cli_env, capture_output=True, check=True, timeout=TIME_LIMIT * 3)
    duration = time.monotonic() - started
    (workdir / "out.enf").unlink()
    for entry in cache_path.glob("*.enfc"):
        entry.unlink()

    rng = np.random.default_rng(11)
    states = []
    for moment in sorted(rng.uniform(0.05, duration * 1.1, 6)):
        process = subprocess.Popen(command, cwd=workdir, env=cli_env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=TIME_LIMIT)
        states.append(_check_after_kill(workdir, cache_path, reference))
        if (workdir / "out.enf").exists():
            (workdir / "out.enf").unlink()
    assert "nothing" in states
    with within(TIME_LIMIT * 3, "the compilation after the kills"):
        result = subprocess.run(command, cwd=workdir, env=cli_env, capture_output=True, text=True,
                                timeout=TIME_LIMIT * 3)
    assert result.returncode == 0, result.stderr
    assert (workdir / "out.enf").read_bytes() == reference
    assert len(cache_entries(cache_path)) == 1  # and no temporary file left in the cache
    assert leftovers(workdir, "out.enf", "model.onnx") == ["out.enf", "model.onnx"]


#: runs furiosa-compiler with a disk that stalls on the n-th fsync: it prints the file being written
#: and waits to be killed there (the test's way to hit the short window of an atomic write)
STALLING = """
import os, sys, time
from furiosa.cli import compiler
real, calls, wanted = os.fsync, [0], int(sys.argv[1])
def stall(fd):
    calls[0] += 1
    if calls[0] == wanted:
        print(os.readlink(f"/proc/self/fd/{fd}"), flush=True)
        time.sleep(600)
    real(fd)
os.fsync = stall
compiler.main(sys.argv[2:])
"""


@pytest.mark.parametrize("stage, fsync", [("cache entry", 1), ("output file", 2)])
def test_sigkill_while_writing_leaves_no_partial_file_and_the_next_run_cleans_up(stage, fsync, tmp_path, cli_env):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "model.onnx").write_bytes(qdq_cnn())
    (workdir / "out.enf").write_bytes(b"the previous output")
    cache_path = Path(cli_env["FC_CACHE_STORE_URL"])
    process = subprocess.Popen([sys.executable, "-c", STALLING, str(fsync), "model.onnx", "-o", "out.enf"],
                               cwd=workdir, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        with within(TIME_LIMIT * 2, "reaching the write"):
            writing = Path(process.stdout.readline().strip())
        assert writing.name.endswith(".part") and writing.exists(), writing  # a temporary file, never the target
        assert writing.parent == (cache_path if stage == "cache entry" else workdir)
    finally:
        process.kill()
        process.wait(timeout=TIME_LIMIT)
    assert (workdir / "out.enf").read_bytes() == b"the previous output"
    stored = list(cache_path.glob("*.enfc"))
    assert len(stored) == (0 if stage == "cache entry" else 1)  # the entry was stored whole before the output
    # the next compilation works and removes what the killed one left
    result = subprocess.run([tool("furiosa-compiler"), "model.onnx", "-o", "out.enf"], cwd=workdir, env=cli_env,
                            capture_output=True, text=True, timeout=TIME_LIMIT * 3)
    assert result.returncode == 0, result.stderr
    assert not writing.exists(), f"the killed compilation's {writing.name} is still there"
    assert leftovers(workdir, "model.onnx", "out.enf") == ["model.onnx", "out.enf"]
    assert (workdir / "out.enf").read_bytes() == compile_quietly(qdq_cnn())
    assert len(cache_entries(cache_path)) == 1


def test_a_cache_temporary_file_of_a_live_process_is_kept(tmp_path):
    """Only the files of processes that are gone are removed (a live writer keeps its own)."""
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    ours = store_dir / f".{'a' * 16}.{os.getpid()}.xyz.part"
    ours.write_bytes(b"being written")
    dead = store_dir / f".{'b' * 16}.{2**22 + 12345}.xyz.part"  # above pid_max: no such process
    dead.write_bytes(b"abandoned")
    cache.DirectoryStore(store_dir).put("c" * 64, cache.encode_entry(compile_quietly(qdq_cnn())), -1)
    assert ours.exists() and not dead.exists()


# --- the Redis cache going away ---------------------------------------------------------------------------------------
def _outputs(program_source, image: np.ndarray, device: str) -> list[np.ndarray]:
    from furiosa.runtime import sync

    with sync.create_runner(program_source, device=device) as runner:
        return runner.run([image])


def _models() -> list[bytes]:
    from examples.zoo import calibration_data, quantize_qdq, small_cnn

    models = []
    for seed in range(3):
        model = small_cnn(seed=seed)
        models.append(quantize_qdq(model, calibration_data(model, 2)).SerializeToString())
    return models


def test_redis_going_away_between_compilations(redis_server, devices, monkeypatch, caplog):
    """Runners keep compiling (and computing the same results) without the cache, with one warning."""
    monkeypatch.setenv("FC_CACHE_STORE_URL", redis_server.url)
    cache.reset()
    image = np.random.default_rng(3).random(SHAPE, dtype=np.float32)
    models = _models()
    expected = [_outputs(compile_quietly(m), image, "warboy(2)*1") for m in models]
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        assert all(np.array_equal(a, b) for a, b in zip(_outputs(models[0], image, "warboy(2)*1"), expected[0]))
        assert len(redis_server.keys()) == 1
        redis_server.stop()
        with within(TIME_LIMIT * 2, "compiling without Redis"):
            for model, reference in zip(models + models, expected + expected):
                outputs = _outputs(model, image, "warboy(2)*1")
                assert all(np.array_equal(a, b) for a, b in zip(outputs, reference))
    warnings_ = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings_) == 1, warnings_
    assert "Redis" in warnings_[0] and "compiling without the cache" in warnings_[0]
    cache.reset()


def test_redis_dying_during_a_compilation(redis_server, monkeypatch, caplog):
    """The server goes away between the lookup and the store: the program is still returned."""
    from furiosa.compiler import pipeline

    monkeypatch.setenv("FC_CACHE_STORE_URL", redis_server.url)
    cache.reset()
    real = pipeline.compile_data

    def dying(*args, **kwargs):
        redis_server.stop()
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compile_data", dying)
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"), within(TIME_LIMIT):
        compiled = cache.compile_cached(qdq_cnn())
        again = cache.compile_cached(qdq_cnn())
    assert not compiled.cached and not again.cached
    assert compiled.data == again.data == compile_quietly(qdq_cnn())
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    cache.reset()


def test_a_frozen_redis_costs_one_timeout_then_nothing(redis_server, monkeypatch, caplog):
    """A server that stops answering (SIGSTOP) is given up after the client timeout, once."""
    monkeypatch.setenv("FC_CACHE_STORE_URL", redis_server.url)
    cache.reset()
    cache.compile_cached(qdq_cnn())  # connected
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
            started = time.monotonic()
            first = cache.compile_cached(qdq_cnn())
            first_took = time.monotonic() - started
            started = time.monotonic()
            second = cache.compile_cached(qdq_cnn())
            second_took = time.monotonic() - started
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert not first.cached and not second.cached and first.data == second.data
    assert first_took < cache.REDIS_TIMEOUT * 3 and second_took < cache.REDIS_TIMEOUT
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    cache.reset()


def test_the_compiler_command_without_its_redis(tmp_path, cli_env):
    from .conftest import free_port

    (tmp_path / "model.onnx").write_bytes(qdq_cnn())
    env = dict(cli_env, FC_CACHE_STORE_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = subprocess.run([tool("furiosa-compiler"), "model.onnx", "-o", "out.enf"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=TIME_LIMIT * 3)
    assert result.returncode == 0, result.stderr
    warnings_ = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings_) == 1 and "compiling without the cache" in warnings_[0], result.stderr
    assert (tmp_path / "out.enf").read_bytes() == compile_quietly(qdq_cnn())


# --- a kernel failing inside the emulator ----------------------------------------------------------------------------
MARKER = -12345.0


@pytest.fixture
def failing_kernel(monkeypatch):
    """The kernel of the program's first operator fails on inputs whose first value is MARKER."""
    from furiosa.common.registry import Entry
    from furiosa.device.emulator.kernels import KERNELS

    program = compile_data(qdq_cnn())
    name = program.operators[0].kernel
    real = KERNELS.lookup(name)

    def preparer(ctx):
        run = real(ctx)

        def faulty(args):
            if args and np.asarray(args[0]).size and float(np.asarray(args[0]).flat[0]) == MARKER:
                raise RuntimeError("injected kernel fault")
            return run(args)

        return faulty

    monkeypatch.setitem(KERNELS._entries, name, [Entry(name, 1, preparer)])
    return name


def _requests(count: int) -> list[tuple[int, np.ndarray, bool]]:
    rng = np.random.default_rng(17)
    out = []
    for index in range(count):
        image = rng.random(SHAPE, dtype=np.float32)
        poisoned = index % 3 == 1
        if poisoned:
            image.flat[0] = MARKER
        out.append((index, image, poisoned))
    return out


def _reference(requests) -> dict[int, list[np.ndarray]]:
    from furiosa.device.emulator.executor import Executor

    executor = Executor(compile_data(qdq_cnn()))
    return {index: executor.run([image]) for index, image, poisoned in requests if not poisoned}


def _assert_fault(error: BaseException) -> None:
    assert isinstance(error, rt_errors.FuriosaRuntimeError), (type(error), error)
    assert "injected kernel fault" in str(error) and "operator 0" in str(error), error


def _threads() -> set[str]:
    """The worker threads of runners and queues (the emulator's kernel helpers are shared by the process)."""
    return {t.name for t in threading.enumerate()
            if t.name.startswith("furiosa-") and not t.name.startswith("furiosa-kernel-")}


def test_a_failing_kernel_fails_its_request_in_the_sync_runner(failing_kernel, devices, cache_dir):
    from furiosa.runtime import sync

    requests = _requests(30)
    expected = _reference(requests)
    results: dict[int, object] = {}

    def client(chunk):
        for index, image, _ in chunk:
            try:
                results[index] = runner.run([image])
            except Exception as error:  # noqa: BLE001 - checked below
                results[index] = error

    with sync.create_runner(qdq_cnn(), worker_num=3) as runner:
        threads = [threading.Thread(target=client, args=(requests[i::3],)) for i in range(3)]
        with within(TIME_LIMIT):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for index, _, poisoned in requests:
            if poisoned:
                _assert_fault(results[index])
            else:
                assert all(np.array_equal(a, b) for a, b in zip(results[index], expected[index]))
        assert all(np.array_equal(a, b) for a, b in zip(runner.run([requests[0][1]]), expected[0]))


def test_a_failing_kernel_fails_its_request_in_the_async_runner(failing_kernel, devices, cache_dir):
    from furiosa.runtime import create_runner

    requests = _requests(30)
    expected = _reference(requests)

    async def main():
        async with create_runner(qdq_cnn(), worker_num=3) as runner:
            results = await asyncio.gather(*(runner.run([image]) for _, image, _ in requests), return_exceptions=True)
            for (index, _, poisoned), result in zip(requests, results):
                if poisoned:
                    _assert_fault(result)
                else:
                    assert all(np.array_equal(a, b) for a, b in zip(result, expected[index]))
            again = await runner.run([requests[0][1]])
            assert all(np.array_equal(a, b) for a, b in zip(again, expected[0]))

    with within(TIME_LIMIT):
        asyncio.run(main())
    assert not _threads()


def _drain(recv, count: int) -> tuple[dict, list]:
    outputs, errors = {}, []
    for _ in range(count):
        try:
            context, result = recv()
            outputs[context] = result
        except rt_errors.FuriosaRuntimeError as error:
            errors.append(error)
    return outputs, errors


def _check_queue_results(requests, expected, outputs, errors) -> None:
    poisoned = [index for index, _, bad in requests if bad]
    assert len(errors) == len(poisoned)
    for error in errors:
        _assert_fault(error)
    assert sorted(getattr(e, "context", None) for e in errors) == poisoned  # the failed request is named
    assert sorted(outputs) == sorted(expected)
    for index, result in outputs.items():
        assert all(np.array_equal(np.asarray(a), b) for a, b in zip(result, expected[index]))


def test_a_failing_kernel_fails_its_request_in_the_queue(failing_kernel, devices, cache_dir):
    from furiosa.runtime import sync

    requests = _requests(30)
    expected = _reference(requests)
    submitter, receiver = sync.create_queue(qdq_cnn(), worker_num=3)
    with submitter, receiver, within(TIME_LIMIT):
        for index, image, _ in requests:
            submitter.submit([image], context=index)
        outputs, errors = _drain(lambda: receiver.recv(timeout=TIME_LIMIT), len(requests))
        _check_queue_results(requests, expected, outputs, errors)
        submitter.submit([requests[0][1]], context="after")
        assert receiver.recv(timeout=TIME_LIMIT)[0] == "after"
    assert not _threads()


def test_a_failing_kernel_fails_its_request_in_the_legacy_async_session(failing_kernel, devices, cache_dir):
    from furiosa.runtime import session

    requests = _requests(30)
    expected = _reference(requests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        submitter, queue = session.create_async(qdq_cnn(), worker_num=3)
        with submitter, queue, within(TIME_LIMIT):
            for index, image, _ in requests:
                submitter.submit([image], context=index)
            outputs, errors = _drain(lambda: queue.recv(int(TIME_LIMIT * 1000)), len(requests))
            outputs = {k: v.numpy() for k, v in outputs.items()}
            _check_queue_results(requests, expected, outputs, errors)
            submitter.submit([requests[0][1]], context="after")
            assert queue.recv(int(TIME_LIMIT * 1000))[0] == "after"
    assert not _threads()


def test_a_failing_kernel_fails_its_request_in_the_async_queue(failing_kernel, devices, cache_dir):
    from furiosa.runtime import create_queue

    requests = _requests(30)
    expected = _reference(requests)

    async def main():
        async with create_queue(qdq_cnn(), worker_num=3) as (submitter, receiver):
            for index, image, _ in requests:
                await submitter.submit([image], context=index)
            outputs, errors = {}, []
            for _ in requests:
                try:
                    context, result = await asyncio.wait_for(receiver.recv(), TIME_LIMIT)
                    outputs[context] = result
                except rt_errors.FuriosaRuntimeError as error:
                    errors.append(error)
            _check_queue_results(requests, expected, outputs, errors)

    with within(TIME_LIMIT):
        asyncio.run(main())
    assert not _threads()


# --- closing during traffic -----------------------------------------------------------------------------------------
def _ends_cleanly(outcomes: list) -> None:
    """Every waiter ended with a result or SessionClosed / SessionTerminated, nothing else."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            assert isinstance(outcome, (rt_errors.SessionClosed, rt_errors.SessionTerminated)), repr(outcome)


def test_closing_a_sync_runner_during_traffic(devices, cache_dir):
    from furiosa.runtime import sync

    image = np.random.default_rng(1).random(SHAPE, dtype=np.float32)
    runner = sync.create_runner(qdq_cnn(), worker_num=2)
    outcomes: list = []
    lock = threading.Lock()
    served = threading.Event()

    def client():
        while True:
            try:
                runner.run([image])
                served.set()
            except BaseException as error:  # noqa: BLE001 - checked below
                with lock:
                    outcomes.append(error)
                return

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert served.wait(TIME_LIMIT)
    with within(TIME_LIMIT, "closing"):
        assert runner.close()
        for thread in threads:
            thread.join(TIME_LIMIT)
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == 8
    _ends_cleanly(outcomes)
    with sync.create_runner(qdq_cnn()):  # the device was released
        pass


def test_closing_an_async_runner_during_traffic(devices, cache_dir):
    from furiosa.runtime import create_runner

    image = np.random.default_rng(1).random(SHAPE, dtype=np.float32)

    async def main():
        runner = await create_runner(qdq_cnn(), worker_num=2)
        tasks = [asyncio.ensure_future(runner.run([image])) for _ in range(200)]
        await asyncio.sleep(0.05)
        assert await runner.close()
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIME_LIMIT)
        assert any(not isinstance(o, BaseException) for o in outcomes)
        assert any(isinstance(o, BaseException) for o in outcomes)
        _ends_cleanly(outcomes)
        with pytest.raises(rt_errors.SessionClosed):
            await runner.run([image])

    with within(TIME_LIMIT):
        asyncio.run(main())
    assert not _threads()


@pytest.mark.parametrize("api", ["queue", "legacy"])
def test_closing_a_queue_during_traffic_ends_every_waiter(api, devices, cache_dir):
    """Submitters blocked on a full queue and receivers blocked in recv all end when the receiver closes."""
    from furiosa.runtime import session, sync

    image = np.random.default_rng(1).random(SHAPE, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if api == "queue":
            submitter, receiver = sync.create_queue(qdq_cnn(), worker_num=2, input_queue_size=2, output_queue_size=2)
            recv = receiver.recv
        else:
            submitter, receiver = session.create_async(qdq_cnn(), worker_num=2, input_queue_size=2,
                                                       output_queue_size=2)
            recv = receiver.recv
    outcomes: list = []
    lock = threading.Lock()

    def submit_forever():
        try:
            while True:
                submitter.submit([image])
        except BaseException as error:  # noqa: BLE001
            with lock:
                outcomes.append(error)

    def receive_forever():
        try:
            while True:
                recv()
        except BaseException as error:  # noqa: BLE001
            with lock:
                outcomes.append(error)

    threads = [threading.Thread(target=submit_forever) for _ in range(3)]
    threads += [threading.Thread(target=receive_forever) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    with within(TIME_LIMIT, "closing"):
        assert receiver.close()
        for thread in threads:
            thread.join(TIME_LIMIT)
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == 6
    _ends_cleanly(outcomes)
    assert not _threads()
    with sync.create_runner(qdq_cnn()):  # the device was released
        pass


def test_closing_the_submitter_lets_queued_work_finish(devices, cache_dir):
    from furiosa.runtime import sync

    image = np.random.default_rng(1).random(SHAPE, dtype=np.float32)
    submitter, receiver = sync.create_queue(qdq_cnn(), worker_num=2)
    for index in range(50):
        submitter.submit([image], context=index)
    submitter.close()
    with pytest.raises(rt_errors.SessionClosed):
        submitter.submit([image])
    with within(TIME_LIMIT):
        contexts = [context for context, _ in receiver]
    assert sorted(contexts) == list(range(50))
    with pytest.raises(rt_errors.SessionTerminated):
        receiver.recv(timeout=1)
    receiver.close()
    assert not _threads()


def test_closing_an_async_queue_during_traffic(devices, cache_dir):
    from furiosa.runtime import create_queue

    image = np.random.default_rng(1).random(SHAPE, dtype=np.float32)

    async def main():
        submitter, receiver = await create_queue(qdq_cnn(), worker_num=2, input_queue_size=2, output_queue_size=2)

        async def submit_forever():
            while True:
                await submitter.submit([image])

        async def receive_forever():
            while True:
                await receiver.recv()

        tasks = [asyncio.ensure_future(submit_forever()) for _ in range(3)]
        tasks += [asyncio.ensure_future(receive_forever()) for _ in range(3)]
        await asyncio.sleep(0.3)
        assert await receiver.close()
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIME_LIMIT)
        assert len(outcomes) == 6 and all(isinstance(o, BaseException) for o in outcomes)
        _ends_cleanly(outcomes)

    with within(TIME_LIMIT):
        asyncio.run(main())
    assert not _threads()


@pytest.mark.parametrize("api", ["queue", "async runner", "legacy"])
def test_running_out_of_threads_while_opening_leaves_nothing_running(api, devices, cache_dir, monkeypatch):
    """The third worker thread cannot start (a system limit): the call fails, the workers already
    started end, the device is released."""
    from furiosa.runtime import create_runner, session, sync

    real = threading.Thread.start
    started = []

    def start(thread):
        if thread.name.startswith("furiosa-"):
            started.append(thread.name)
            if len(started) == 3:
                raise RuntimeError("can't start new thread")
        return real(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="can't start new thread"):
        warnings.simplefilter("ignore", FutureWarning)
        if api == "queue":
            sync.create_queue(qdq_cnn(), worker_num=4)
        elif api == "legacy":
            session.create_async(qdq_cnn(), worker_num=4)
        else:
            asyncio.run(_await(create_runner(qdq_cnn(), worker_num=4)))
    monkeypatch.setattr(threading.Thread, "start", real)
    assert len(started) == 3
    assert not _threads()
    with sync.create_runner(qdq_cnn()):  # the device was released
        pass


async def _await(future):
    return await future
