"""Running a compiled program on the emulated device.

An :class:`Executor` prepares every operator of a program once (kernels, lookup tables, host
sessions, modeled times) and then runs it as often as asked, from any number of threads. Runs
of consecutive NPU operators form *NPU executions*, as on the card. When given a sink, a run
reports spans: measured ones for host operators, modeled ones for NPU executions and their
operators (see :mod:`.events` and :mod:`.timing`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from furiosa.common.qmath import from_declared, to_declared
from furiosa.compiler.enf import layout
from furiosa.compiler.enf.program import IOSpec, Operator, Program

from . import timing
from .events import Sink, Span, new_id, now_ns, thread_number
from .kernels import Run, prepare


@dataclass(frozen=True)
class Step:
    op: Operator
    run: Run


@dataclass(frozen=True)
class Execution:
    """A run of consecutive NPU operators, with its modeled times."""

    index: int
    steps: tuple[Step, ...]
    operator_ns: tuple[int, ...]
    iowait_ns: int

    @property
    def run_ns(self) -> int:
        return sum(self.operator_ns)

    @property
    def total_ns(self) -> int:
        return self.run_ns + self.iowait_ns


def _executions(program: Program, steps: list[Step], model: timing.DeviceModel) -> list["Step | Execution"]:
    streamed = set(program.memory.get("streamed_weights", ()))
    produced_by: dict[str, str] = {}
    for step in steps:
        for name in step.op.outputs:
            produced_by[name] = step.op.unit
    plan: list[Step | Execution] = []
    run: list[Step] = []

    def close() -> None:
        if not run:
            return
        inside = {o for s in run for o in s.op.outputs}
        inputs = {n for s in run for n in s.op.inputs
                  if n and n not in inside and not program.tensors[n].constant}
        readers_outside = {n for s in steps if s not in run for n in s.op.inputs} | {o.tensor for o in program.outputs}
        outputs = {n for n in inside if n in readers_outside}
        in_bytes = sum(program.tensors[n].nbytes for n in inputs)
        out_bytes = sum(program.tensors[n].nbytes for n in outputs)
        op_ns = tuple(timing.operator_ns(s.op.cost, model, program.batch_size, s.op.index in streamed)
                      for s in run)
        plan.append(Execution(len([p for p in plan if isinstance(p, Execution)]), tuple(run), op_ns,
                              timing.iowait_ns(in_bytes, out_bytes, model, program.batch_size)))
        run.clear()

    for step in steps:
        if step.op.unit == "npu" and step.op.cost is not None:
            run.append(step)
        else:
            close()
            plan.append(step)
    close()
    return plan


class Executor:
    """A program prepared for the emulated device."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.model = timing.MODELS[program.target]
        steps = [Step(op, prepare(op, program)) for op in program.operators]
        self.plan = _executions(program, steps, self.model)
        self._constants = {name: program.constant(name) for name, spec in program.tensors.items() if spec.constant}
        last_use: dict[str, int] = {}
        for position, step in enumerate(steps):
            for name in step.op.inputs:
                last_use[name] = position
        keep = {io.tensor for io in program.outputs}
        self._free_after: dict[int, list[str]] = {}
        for name, position in last_use.items():
            if name not in keep and name not in self._constants:
                self._free_after.setdefault(position, []).append(name)
        self._position = {id(step): i for i, step in enumerate(steps)}
        self._layouts = {
            io.tensor: layout.lowered(program.tensors[io.tensor].shape, program.target)
            for io in (*program.inputs, *program.outputs) if io.layout == "lowered"
        }

    @property
    def executions(self) -> list[Execution]:
        return [p for p in self.plan if isinstance(p, Execution)]

    @property
    def modeled_npu_ns(self) -> int:
        """Modeled NPU time of one run: the sum of its executions' totals."""
        return sum(e.total_ns for e in self.executions)

    # --- boundary conversions ------------------------------------------------------------
    def _to_device(self, io: IOSpec, array: np.ndarray) -> np.ndarray:
        if io.layout == "lowered":
            array = self._layouts[io.tensor].to_logical(array)
        if io.qparams is not None:
            array = from_declared(array, io.qparams)
        return array

    def _from_device(self, io: IOSpec, array: np.ndarray) -> np.ndarray:
        if io.qparams is not None:
            array = to_declared(array, io.qparams)
        if io.layout == "lowered":
            return self._layouts[io.tensor].to_lowered(array)
        return array

    # --- running -----------------------------------------------------------------------------
    def _step(self, step: Step, env: dict[str, np.ndarray]) -> None:
        # Prepared kernels take the run-time inputs only; they read constants when prepared.
        outputs = step.run([env[n] for n in step.op.inputs if n and n not in self._constants])
        for name, array in zip(step.op.outputs, outputs):
            env[name] = array
        for name in self._free_after.get(self._position[id(step)], ()):
            env.pop(name, None)

    def run(self, inputs: Sequence[np.ndarray], sink: Sink | None = None, trace_id: int = 0,
            parent_span_id: int = 0, pe_index: int = 0) -> list[np.ndarray]:
        """Run the program once on arrays matching its inputs; return its outputs."""
        program = self.program
        env: dict[str, np.ndarray] = {io.tensor: self._to_device(io, a) for io, a in zip(program.inputs, inputs)}
        thread = thread_number() if sink is not None else 0
        for item in self.plan:
            if isinstance(item, Execution):
                started = now_ns()
                for step in item.steps:
                    self._step(step, env)
                if sink is not None:
                    self._report_execution(item, started, sink, thread, trace_id, parent_span_id, pe_index)
                continue
            started = now_ns() if sink is not None else 0
            self._step(item, env)
            if sink is not None:
                sink(Span(item.op.name, "Runtime", started, now_ns(), thread, trace_id, new_id(),
                          parent_span_id, operator_index=item.op.index))
        results = []
        for io in program.outputs:
            array = self._from_device(io, env[io.tensor])
            if any(np.may_share_memory(array, a) for a in inputs):
                array = array.copy()
            results.append(array)
        return results

    def _report_execution(self, execution: Execution, start: int, sink: Sink, thread: int, trace_id: int,
                          parent: int, pe_index: int) -> None:
        span_id = new_id()
        sink(Span("Execution", "NPU", start, start + execution.total_ns, thread, trace_id, span_id, parent,
                  pe_index=pe_index, execution_index=execution.index, modeled=True))
        moment = start + execution.iowait_ns // 2
        for instruction, (step, duration) in enumerate(zip(execution.steps, execution.operator_ns)):
            sink(Span(step.op.name, "NPU", moment, moment + duration, thread, trace_id, new_id(), span_id,
                      pe_index=pe_index, execution_index=execution.index, instruction_index=instruction,
                      operator_index=step.op.index, modeled=True))
            moment += duration

