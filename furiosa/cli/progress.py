"""``furiosa-compiler``'s progress lines, in the vendor's six steps (spec/toolchain-api.md §4.1).

The vendor's compiler goes onnx → dfg → ldfg → cdfg → gir → lir → enf. The emulator's compiler has
other stages; each step below is labelled as the vendor labels it and covers, in order, this
work (docs/cli.md has the same table):

====  ====================  ==============================================================
step  vendor label          emulator work measured
====  ====================  ==============================================================
1     <kind> to dfg         reading the model and the frontend (checks, static shapes,
                            translation to the graph IR)
2     dfg to ldfg           the graph passes, one ``▪▪▪▪▪`` line each as the pass manager
                            times them (constant folding, calibration, int8 fusion)
3     ldfg to cdfg          the back end: ModelEditor I/O conversions, NPU/host partition,
                            I/O plan and Lower/Unlower, scheduling, host subgraphs, costs,
                            memory plan, verification
4     cdfg to gir           ENF serialization and storing the result in the compiler cache
5     gir to lir            the reports asked for (``--dot-graph``, ``--analyze-memory``)
6     lir to enf            writing the ENF file
====  ====================  ==============================================================

Steps 1 and 2 are told apart by the pass manager's own timing records (logger
``furiosa.compiler``, ``pass NAME took S s``): the frontend ends where the first pass starts.
If a source kind goes through no graph pass, step 1 covers everything up to the back end and
steps 2 and 3 say so instead of printing a time.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from furiosa.compiler import enf

from ._common import seconds

PASS_RECORD = "pass %s took %.3f s (%d nodes)"
PASS_LABELS = {
    "fold_constants": "Folding constants",
    "apply_calibration": "Applying calibration ranges",
    "fuse_qdq": "Fusing int8 kernels",
}


class _PassWatcher(logging.Handler):
    """Receives the pass manager's timing records while a compilation runs."""

    def __init__(self, progress: "CompileProgress") -> None:
        super().__init__(logging.DEBUG)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == PASS_RECORD and isinstance(record.args, tuple) and len(record.args) == 3:
            name, elapsed, _ = record.args
            self.progress.pass_done(str(name), float(elapsed), record.created)


class CompileProgress:
    """Prints the six steps of one compilation on stderr (bold/dim on a terminal)."""

    TOTAL = 6

    def __init__(self, kind: str, stream: TextIO | None = None) -> None:
        self.kind = kind
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.labels = [f"{kind} to dfg", "dfg to ldfg", "ldfg to cdfg", "cdfg to gir", "gir to lir", "lir to enf"]
        self.started = False
        self.step = 0
        self.step_started = 0.0
        self.passes_seen = 0
        self.last_pass_end: float | None = None
        self.pass_total = self._pass_total()

    @staticmethod
    def _pass_total() -> int:
        try:
            from furiosa.compiler.pipeline import GRAPH_PIPELINE

            return len(GRAPH_PIPELINE)
        except (ImportError, AttributeError):
            return 0

    # --- output ----------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _counter(self, step: int) -> str:
        counter = f"[{step}/{self.TOTAL}]"
        return f"\x1b[1m\x1b[2m{counter}\x1b[0m" if self.tty else counter

    def begin(self, step: int, at: float | None = None) -> None:
        self.step = step
        self.step_started = time.time() if at is None else at
        self._write(f"{self._counter(step)} 🔍   Compiling from {self.labels[step - 1]}\n")

    def end(self, at: float | None = None) -> None:
        finished = time.time() if at is None else at
        self._write(f"Done in {seconds(finished - self.step_started)}\n")

    def merged(self, into: int) -> None:
        self._write(f"Done (included in step {into})\n")

    # --- events ----------------------------------------------------------------------------
    def pass_done(self, name: str, elapsed: float, at: float) -> None:
        """A graph pass finished at ``at`` after ``elapsed`` seconds."""
        if self.step == 1:
            self.end(at - elapsed)
            self.begin(2, at - elapsed)
        if self.step != 2:
            return
        self.passes_seen += 1
        total = max(self.pass_total, self.passes_seen)
        label = PASS_LABELS.get(name, name.replace("_", " ").capitalize())
        self._write(f"▪▪▪▪▪ [{self.passes_seen}/{total}] {label}...Done in {seconds(elapsed)}\n")
        self.last_pass_end = at

    def compile(self, data: bytes, origin: str, base_dir: Any, *, target: str, batch_size: int | None,
                config: Any) -> enf.Program:
        """Compile with progress: the ``compile_fn`` handed to the compiler cache on a miss."""
        from furiosa.compiler.pipeline import compile_data

        self.started = True
        self.begin(1)
        logger = logging.getLogger("furiosa.compiler")
        watcher = _PassWatcher(self)
        level = logger.level
        logger.addHandler(watcher)
        if logger.getEffectiveLevel() > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
        try:
            program = compile_data(data, origin, base_dir, target=target, batch_size=batch_size, config=config)
        finally:
            logger.removeHandler(watcher)
            logger.setLevel(level)
        now = time.time()
        if self.step == 1:  # no graph pass ran
            self.end(now)
            self.begin(2, now)
            self.merged(1)
            self.begin(3, now)
            self.merged(1)
        else:
            boundary = self.last_pass_end if self.last_pass_end is not None else now
            self.end(boundary)
            self.begin(3, boundary)
            self.end(now)
        self.begin(4, now)
        return program

    def serialized(self) -> None:
        """Step 4 is over (the result is serialized and stored in the cache)."""
        if self.step == 4:
            self.end()

    def abandon(self) -> None:
        """A step failed: end its line so that the error reads on a line of its own."""
        self.step = 0
