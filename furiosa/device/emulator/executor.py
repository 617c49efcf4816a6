"""Running a compiled program on the emulated device.

An :class:`Executor` prepares every operator of a program once (kernels, lookup tables, host
sessions, modeled times) and then runs it as often as asked, from any number of threads. Runs
of consecutive NPU operators form *NPU executions*, as on the card. When given a sink, a run
reports spans: measured ones for host operators, modeled ones for NPU executions, their
operators and the PCIe transfers around them, placed on the device's modeled timeline (see
:mod:`.events` and :mod:`.timing`). When asked to pace, a run waits until the modeled device
would have finished each execution, so that it takes at least the modeled time.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from furiosa.common.errors import ExecutionError, FuriosaError, UnsupportedModelError
from furiosa.common.qmath import from_declared, to_declared
from furiosa.compiler.enf import layout
from furiosa.compiler.enf.program import IOSpec, Operator, Program

from . import timing
from .events import Sink, Span, new_id, now_ns, thread_number
from .kernels import Run, parallel, prepare

log = logging.getLogger("furiosa.device")


@dataclass(frozen=True)
class Step:
    """One prepared operator: which environment entries it reads, writes and frees afterwards."""

    op: Operator
    run: Run
    reads: tuple[str, ...] = ()  # run-time inputs (constants are bound when prepared)
    frees: tuple[str, ...] = ()  # tensors no later step reads


@dataclass(frozen=True)
class Execution:
    """A run of consecutive NPU operators, with its modeled times."""

    index: int
    steps: tuple[Step, ...]
    timing: timing.ExecutionTiming

    @property
    def operator_ns(self) -> tuple[int, ...]:
        return self.timing.operator_ns

    @property
    def iowait_ns(self) -> int:
        return self.timing.iowait_ns

    @property
    def run_ns(self) -> int:
        return self.timing.run_ns

    @property
    def total_ns(self) -> int:
        return self.timing.total_ns


def _executions(steps: list[Step], modeled: timing.ProgramTiming) -> list["Step | Execution"]:
    """The steps of a run, with the NPU executions of the timing model grouped."""
    first = {e.operators[0]: e for e in modeled.executions}
    plan: list[Step | Execution] = []
    position = 0
    while position < len(steps):
        found = first.get(steps[position].op.index)
        if found is None:
            plan.append(steps[position])
            position += 1
            continue
        count = len(found.operators)
        plan.append(Execution(found.index, tuple(steps[position:position + count]), found))
        position += count
    return plan


def _sleep_until(moment_ns: int) -> None:
    remaining = moment_ns - now_ns()
    if remaining > 0:
        time.sleep(remaining / 1e9)


def _failure(op: Operator, error: Exception) -> ExecutionError:
    """The error a failing operator raises: where it ran, what it computes, what went wrong."""
    nodes = ", ".join(f"{n['op_type']} {n['name']!r}" for n in op.attrs.get("nodes", ())) or ", ".join(op.origin)
    detail = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
    return ExecutionError(f"operator {op.index} ({op.name} on the {op.unit}: {nodes}) failed: "
                          f"{type(error).__name__}: {detail}")


def _prepare(op: Operator, program: Program) -> Run:
    try:
        return prepare(op, program)
    except FuriosaError:
        raise
    except Exception as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        raise UnsupportedModelError(
            f"operator {op.index} ({op.name}, from {', '.join(op.origin)}) cannot be prepared: "
            f"{type(error).__name__}: {detail}"
        ) from error


class Executor:
    """A program prepared for the emulated device."""

    def __init__(self, program: Program, model: timing.DeviceModel | None = None) -> None:
        """Prepare ``program``; ``model`` replaces the timing model of its target (what-if studies)."""
        self.program = program
        self.model = model or timing.model_for(program.target)
        self.timing = timing.plan(program, self.model)
        self._constants = {name: program.constant(name) for name, spec in program.tensors.items() if spec.constant}
        last_use: dict[str, int] = {}
        for position, op in enumerate(program.operators):
            for name in op.inputs:
                last_use[name] = position
        keep = {io.tensor for io in program.outputs}
        frees: dict[int, list[str]] = {}
        for name, position in last_use.items():
            if name and name not in keep and name not in self._constants:
                frees.setdefault(position, []).append(name)
        steps = [Step(op, _prepare(op, program), tuple(n for n in op.inputs if n and n not in self._constants),
                      tuple(frees.get(position, ())))
                 for position, op in enumerate(program.operators)]
        self.plan = _executions(steps, self.timing)
        self._timeline = timing.Timeline()
        self._slow_noted = False
        self._layouts = {
            io.tensor: layout.lowered(program.tensors[io.tensor].shape, program.target)
            for io in (*program.inputs, *program.outputs) if io.layout == "lowered"
        }
        # Inputs and outputs that need no conversion at the boundary skip it.
        self._plain_inputs = all(io.layout != "lowered" and io.qparams is None for io in program.inputs)
        self._plain_outputs = all(io.layout != "lowered" and io.qparams is None for io in program.outputs)
        self._input_names = [io.tensor for io in program.inputs]
        self._output_names = [io.tensor for io in program.outputs]
        # Programs whose inputs and outputs need no conversion run through _run_flat; inferences
        # are counted for the kernels' thread splitting only when NPU kernels may split.
        self._flat = steps if self._plain_inputs and self._plain_outputs else None
        self._counted = any(op.unit == "npu" for op in program.operators)
        # One step that reads the inputs and writes the outputs, in order (a float model run by
        # the host as one onnxruntime subgraph): called directly.
        only = steps[0] if self._flat is not None and len(steps) == 1 else None
        self._single = only if (only is not None and not self._counted and only.op.kernel == "onnx"
                                and list(only.reads) == self._input_names
                                and list(only.op.outputs) == self._output_names) else None

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
    @staticmethod
    def _step(step: Step, env: dict[str, np.ndarray]) -> None:
        # Prepared kernels take the run-time inputs only; they read constants when prepared.
        try:
            outputs = step.run([env[n] for n in step.reads])
        except Exception as error:
            raise _failure(step.op, error) from error
        for name, array in zip(step.op.outputs, outputs):
            env[name] = array
        for name in step.frees:
            env.pop(name, None)

    def run(self, inputs: Sequence[np.ndarray], sink: Sink | None = None, trace_id: int = 0,
            parent_span_id: int = 0, pe_index: int = 0, *, device: str | None = None,
            timeline: timing.Timeline | None = None, pace: bool = False) -> list[np.ndarray]:
        """Run the program once on arrays matching its inputs; return its outputs."""
        if sink is None and not pace and self._flat is not None:
            return self._run_flat(inputs)
        parallel.enter()
        try:
            return self._run_batch([inputs], sink, trace_id, parent_span_id, pe_index, device, timeline, pace)[0]
        finally:
            parallel.leave()

    def _run_flat(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One sample, no spans, no pacing: the steps in order with nothing else to do."""
        single = self._single
        if single is not None:
            try:
                results = single.run(inputs)
            except Exception as error:
                raise _failure(single.op, error) from error
            return self._own(results, inputs)
        counted = self._counted
        if counted:
            parallel.enter()
        try:
            env = dict(zip(self._input_names, inputs))
            for step in self._flat:
                self._step(step, env)
        finally:
            if counted:
                parallel.leave()
        return self._own([env[name] for name in self._output_names], inputs)

    @staticmethod
    def _own(results: list[np.ndarray], inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """An output may be an input passed through: the caller gets its own copy. Only an input
        itself or a view (base set) can share an input's memory; the rest are not looked at."""
        if len(inputs) == 1:
            x = inputs[0]
            if len(results) == 1:  # the common float model: no list to build when nothing is shared
                a = results[0]
                return [a.copy()] if (a is x or a.base is not None) and np.may_share_memory(a, x) else results
            return [a.copy() if (a is x or a.base is not None) and np.may_share_memory(a, x) else a for a in results]
        return [a.copy() if (a.base is not None or any(a is i for i in inputs))
                and any(np.may_share_memory(a, i) for i in inputs) else a for a in results]

    def run_batch(self, samples: Sequence[Sequence[np.ndarray]], sink: Sink | None = None, trace_id: int = 0,
                  parent_span_id: int = 0, pe_index: int = 0, *, device: str | None = None,
                  timeline: timing.Timeline | None = None, pace: bool = False) -> list[list[np.ndarray]]:
        """Run one device batch: ``samples`` holds the inputs of each sample; return each one's outputs.

        The kernels compute sample by sample; the device is modeled once for the whole batch (the
        program's ``batch_size``). ``sink`` receives the spans; ``device`` names the device's
        lanes; ``timeline`` is the device's modeled occupancy (shared by everything running on
        it); ``pace`` waits until the modeled device would have finished each execution.
        """
        parallel.enter()
        try:
            return self._run_batch(samples, sink, trace_id, parent_span_id, pe_index, device, timeline, pace)
        finally:
            parallel.leave()

    def _run_batch(self, samples, sink, trace_id, parent_span_id, pe_index, device, timeline, pace):
        program = self.program
        if self._plain_inputs:
            envs = [dict(zip(self._input_names, inputs)) for inputs in samples]
        else:
            envs = [{io.tensor: self._to_device(io, a) for io, a in zip(program.inputs, inputs)} for inputs in samples]
        thread = thread_number() if sink is not None else 0
        clock = timeline if timeline is not None else self._timeline
        for item in self.plan:
            if isinstance(item, Execution):
                ready = now_ns()
                for env in envs:
                    for step in item.steps:
                        self._step(step, env)
                if sink is not None or pace:
                    slot = clock.schedule(ready, item.timing)
                    if sink is not None:
                        self._report_execution(item, slot, sink, thread, trace_id, parent_span_id, pe_index, device)
                    if pace:
                        self._pace(slot.d2h_end)
                continue
            if sink is None:
                for env in envs:
                    self._step(item, env)
                continue
            started = now_ns()
            for env in envs:
                self._step(item, env)
            sink(Span(item.op.name, "Runtime", started, now_ns(), thread, trace_id, new_id(),
                      parent_span_id, operator_index=item.op.index))
        outputs = []
        for inputs, env in zip(samples, envs):
            if self._plain_outputs:
                results = [env[name] for name in self._output_names]
            else:
                results = [self._from_device(io, env[io.tensor]) for io in program.outputs]
            # An output may be an input passed through: the caller gets its own copy.
            outputs.append([a.copy() if any(np.may_share_memory(a, i) for i in inputs) else a for a in results])
        return outputs

    def _pace(self, until_ns: int) -> None:
        late = now_ns() - until_ns
        if late > 0 and not self._slow_noted:
            self._slow_noted = True
            log.info("pacing: the emulator computes slower than the modeled device (%.3f ms late on one "
                     "execution); paced runs take the emulator's time, not the modeled time", late / 1e6)
        _sleep_until(until_ns)

    def _report_execution(self, execution: Execution, slot: timing.Slot, sink: Sink, thread: int, trace_id: int,
                          parent: int, pe_index: int, device: str | None) -> None:
        modeled = execution.timing
        index = execution.index

        def span(name: str, start: int, end: int, parent_id: int, **fields) -> int:
            span_id = new_id()
            sink(Span(name, "NPU", start, end, thread, trace_id, span_id, parent_id, pe_index=pe_index,
                      execution_index=index, modeled=True, device=device, **fields))
            return span_id

        if modeled.h2d_ns:
            span("HostToDevice", slot.h2d_start, slot.h2d_end, parent)
        execution_id = span("Execution", slot.start, slot.end, parent)
        moment = slot.start
        span("Load", moment, moment + modeled.load_ns, execution_id)
        moment += modeled.load_ns
        if modeled.program_load_ns:
            span("LoadProgram", moment, moment + modeled.program_load_ns, execution_id)
            moment += modeled.program_load_ns
        for instruction, (step, duration) in enumerate(zip(execution.steps, modeled.operator_ns)):
            span(step.op.name, moment, moment + duration, execution_id, instruction_index=instruction,
                 operator_index=step.op.index)
            moment += duration
        span("Store", moment, moment + modeled.store_ns, execution_id)
        if modeled.d2h_ns:
            span("DeviceToHost", slot.d2h_start, slot.d2h_end, parent)
