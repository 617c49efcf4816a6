"""The one way the SDK opens onnxruntime sessions.

onnxruntime reads ONNX files up to a given IR version (13 for 1.31), while the onnx package writes
the newest (14 for onnx 1.23) even for models that use nothing new. Every model handed to
onnxruntime therefore has its IR version capped at 10, which covers every opset the SDK takes
(up to 21): the IR version is normally the first field of the file and is patched in place,
without re-serializing the model.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

MAX_IR_VERSION = 10


def _capped(data: bytes) -> bytes:
    """``data`` with its IR version capped, patched in place when it is the leading field."""
    if len(data) >= 2 and data[0] == 0x08 and data[1] < 0x80:  # field 1 (ir_version), one-byte varint
        if data[1] > MAX_IR_VERSION:
            return b"\x08" + bytes([MAX_IR_VERSION]) + data[2:]
        return data
    import onnx

    model = onnx.load_model_from_string(data)
    if model.ir_version <= MAX_IR_VERSION:
        return data
    model.ir_version = MAX_IR_VERSION
    return model.SerializeToString()


def model_bytes(model: Any) -> bytes:
    """Serialized model (ModelProto or bytes) that onnxruntime accepts."""
    data = model if isinstance(model, (bytes, bytearray, memoryview)) else model.SerializeToString()
    return _capped(bytes(data))


_shared_lock = threading.Lock()
_shared_registered = False


def _register_shared_allocator(ort: Any) -> bool:
    """Register, once per process, the CPU arena that sessions asking for it share."""
    global _shared_registered
    with _shared_lock:
        if not _shared_registered:
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            # Grow by what is asked (not by doubling): the arena's size follows the largest tensors.
            config = ort.OrtArenaCfg({"max_mem": 0, "arena_extend_strategy": 1, "initial_chunk_size_bytes": -1,
                                      "max_dead_bytes_per_chunk": -1})
            try:
                ort.create_and_register_allocator(info, config)
            except Exception:  # noqa: BLE001 - an older onnxruntime: each session keeps its own arena
                return False
            _shared_registered = True
        return True


def session(model: Any, *, threads: int = 0, spinning: bool = True, arena: bool = True,
            optimize: bool = True, shared_arena: bool = False) -> Any:
    """A CPU ``InferenceSession`` for a ModelProto or serialized model.

    ``threads``: intra-op threads (0: onnxruntime's default); ``spinning=False`` stops idle
    threads from spin-waiting (for many small sessions run one after another);
    ``shared_arena``: allocate tensors from one process-wide arena instead of the session's own,
    so that many sessions (one per emulated operator) do not each keep their largest tensors.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: errors reach the user as the SDK's exceptions, not as log lines
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if shared_arena and arena and _register_shared_allocator(ort):
        options.add_session_config_entry("session.use_env_allocators", "1")
    if not arena:
        options.enable_cpu_mem_arena = False
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model_bytes(model), options, providers=["CPUExecutionProvider"])


def run_function(session: Any, outputs: Any = None) -> Callable[[dict], list]:
    """``feeds -> outputs`` for a session whose feeds the caller has already checked.

    ``InferenceSession.run`` validates the feed names and looks the output names up at every
    call; for the emulator's kernels, which run the same session with the same names thousands
    of times, the binding underneath does the same work without that (1 to 2 us per call on
    small models). Falls back to ``InferenceSession.run`` where the binding is not there.
    """
    names = list(outputs) if outputs is not None else [o.name for o in session.get_outputs()]
    inner = getattr(session, "_sess", None)
    if inner is not None and callable(getattr(inner, "run", None)):
        run = inner.run
        return lambda feeds: run(names, feeds, None)
    return lambda feeds: session.run(names, feeds)
