"""Compiler configuration (``compiler_config=`` and ``furiosa-compiler`` YAML files).

Every key the vendor documents or its users are known to pass is accepted with its type checked
(spec/toolchain-api.md §5, spec/runtime-api.md §10). The keys the emulator implements are
typed fields of :class:`CompilerConfig`; the others are accepted, validated and recorded in the
ENF file but change nothing, since they tune parts of the real compiler that the emulator does
not model. An unknown key or a value of the wrong type is an :class:`InvalidConfigError`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from furiosa.common.errors import InvalidConfigError


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    # finite only: NaN and infinities are no setting, and ENF manifests (JSON) cannot hold them
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)


def _is_int_lists(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(_is_int_list(v) for v in value)


def _is_without_quantize(value: Any) -> bool:
    if not isinstance(value, Mapping) or set(value) - {"parameters"}:
        return False
    params = value.get("parameters", [])
    if not isinstance(params, (list, tuple)):
        return False
    allowed = {"input_min": _is_number, "input_max": _is_number, "permute": _is_int_list}
    for entry in params:
        if not isinstance(entry, Mapping) or set(entry) - set(allowed):
            return False
        if not all(allowed[k](v) for k, v in entry.items()):
            return False
    return True


@dataclass(frozen=True)
class KeySpec:
    type_name: str
    check: Callable[[Any], bool]
    modeled: bool
    meaning: str


_BOOL = ("bool", _is_bool)
_INT = ("int", _is_int)
_NUM = ("finite number", _is_number)
_STR = ("string", _is_str)

# key -> (type, implemented by the emulator?, meaning)
KEYS: dict[str, KeySpec] = {
    "permute_input": KeySpec("list of int lists", _is_int_lists, True,
                             "feed input i transposed by the i-th permutation (torch.permute convention)"),
    "remove_lower": KeySpec(*_BOOL, True, "inputs take the NPU's lowered 6-D layout (no Lower)"),
    "remove_unlower": KeySpec(*_BOOL, True, "outputs stay in the NPU's lowered 6-D layout (no Unlower)"),
    "use_program_loading": KeySpec(*_BOOL, True,
                                   "load programs larger than the instruction memory in parts"),
    "allow_precision_error": KeySpec(*_BOOL, False, "accepted; the emulator is always exact"),
    "keep_unsignedness": KeySpec(*_BOOL, False, "accepted; uint8 tensors keep their declared type"),
    "split_unit": KeySpec(*_INT, False, "accepted; tiling is not modeled"),
    "sa_malloc": KeySpec(*_BOOL, False, "accepted; memory allocation search is not modeled"),
    "without_quantize": KeySpec("mapping {parameters: [{input_min, input_max, permute}]}",
                                _is_without_quantize, False, "0.7-era option, accepted"),
    "split_after_lower": KeySpec(*_BOOL, False, "accepted"),
    "progress_mode": KeySpec(*_STR, False, "accepted"),
    "lower_tabulated_dequantize": KeySpec(*_BOOL, False, "accepted"),
    "use_tensor_dma": KeySpec(*_BOOL, False, "accepted"),
    "use_loop_estimator": KeySpec(*_BOOL, False, "accepted"),
    "estimator_mode": KeySpec(*_STR, False, "accepted"),
    "max_operation_memory_ratio": KeySpec(*_NUM, False, "accepted"),
    "split_policy": KeySpec(*_STR, False, "accepted"),
    "graph_lowering_scheme": KeySpec(*_STR, False, "accepted"),
    "split_batch_lower_unlower": KeySpec(*_BOOL, False, "accepted"),
    "max_num_partitioning_axes": KeySpec(*_INT, False, "accepted"),
    "allow_to_partition_last_axis": KeySpec(*_BOOL, False, "accepted"),
    "use_hybrid_cast": KeySpec(*_BOOL, False, "accepted"),
    "bail_on_split_failure": KeySpec(*_BOOL, False, "accepted"),
    "optimize_external_operators": KeySpec(*_BOOL, False, "accepted"),
    "optimize_lower_unlower": KeySpec(*_BOOL, False, "accepted"),
    "dont_care_bridge_cost": KeySpec(*_BOOL, False, "accepted"),
    "use_heuristic_lowering": KeySpec(*_BOOL, False, "accepted"),
    "use_peak_memory_scheduler": KeySpec(*_BOOL, False, "accepted"),
    "io_scheduling_mode": KeySpec(*_STR, False, "accepted"),
    "no_weight_pinning": KeySpec(*_BOOL, False, "accepted"),
    "no_buffer_sharing": KeySpec(*_BOOL, False, "accepted"),
    "target_pes": KeySpec("list of int", _is_int_list, False, "accepted"),
    "mimic_sync_io": KeySpec(*_BOOL, False, "accepted"),
    "use_legacy_task_model": KeySpec(*_BOOL, False, "accepted"),
    "use_subroutine": KeySpec(*_BOOL, False, "accepted"),
    "disable_buffer_cache": KeySpec(*_BOOL, False, "accepted"),
    "first_conv_to_matmul": KeySpec(*_BOOL, False, "accepted"),
    "skip_split": KeySpec(*_BOOL, False, "accepted"),
    "use_repartition_conv": KeySpec(*_BOOL, False, "accepted"),
    "external_operators_to_mlir": KeySpec(*_BOOL, False, "accepted"),
    "use_projection_shape": KeySpec(*_BOOL, False, "accepted"),
    "skip_lower": KeySpec(*_BOOL, False, "accepted"),
    "panic_on_pdb_miss": KeySpec(*_BOOL, False, "accepted"),
    "use_repartition": KeySpec(*_BOOL, False, "accepted"),
    "dump_in_nvp": KeySpec(*_BOOL, False, "accepted"),
    "split_width_first": KeySpec(*_BOOL, False, "accepted"),
    "permute_strides": KeySpec("list of int lists", _is_int_lists, False, "accepted"),
    "allow_rf_segment": KeySpec(*_BOOL, False, "accepted"),
    "abs_static_dram_addr": KeySpec(*_BOOL, False, "accepted"),
    "use_atrr_lifetime": KeySpec(*_BOOL, False, "accepted"),
}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class CompilerConfig:
    """A validated compiler configuration.

    The implemented keys are fields; every other accepted key is kept in ``accepted``.
    """

    permute_input: tuple[tuple[int, ...], ...] | None = None
    remove_lower: bool = False
    remove_unlower: bool = False
    use_program_loading: bool = False
    accepted: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> "CompilerConfig":
        """Validate a user configuration; ``None`` and ``{}`` mean the defaults."""
        if config is None:
            return cls()
        if not isinstance(config, Mapping):
            raise InvalidConfigError(
                f"a compiler configuration must be a mapping of keys to values, got {type(config).__name__}"
            )
        fields: dict[str, Any] = {}
        accepted: dict[str, Any] = {}
        for key, value in config.items():
            if not isinstance(key, str) or key not in KEYS:
                raise InvalidConfigError(
                    f"unknown compiler configuration key {key!r}; known keys: {', '.join(sorted(KEYS))}"
                )
            spec = KEYS[key]
            if value is None:
                continue
            if not spec.check(value):
                raise InvalidConfigError(
                    f"compiler configuration key {key!r} takes a {spec.type_name}, "
                    f"got {value!r} ({type(value).__name__})"
                )
            if spec.modeled:
                fields[key] = value
            else:
                accepted[key] = _plain(value)
        if "permute_input" in fields:
            fields["permute_input"] = tuple(tuple(p) for p in fields["permute_input"])
            for perm in fields["permute_input"]:
                if sorted(perm) != list(range(len(perm))):
                    raise InvalidConfigError(
                        f"permute_input entry {list(perm)} is not a permutation of 0..{len(perm) - 1}"
                    )
        return cls(**fields, accepted=MappingProxyType(accepted))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CompilerConfig":
        """Read a YAML file holding a mapping of configuration keys."""
        import yaml

        try:
            text = Path(path).read_text()
        except OSError as error:
            raise InvalidConfigError(f"cannot read compiler configuration {path}: {error.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            from furiosa.quantizer.metadata import yaml_problem

            raise InvalidConfigError(f"compiler configuration {path} is not valid YAML{yaml_problem(error)}") from None
        return cls.from_mapping({} if data is None else data)

    def to_mapping(self) -> dict[str, Any]:
        """The configuration as plain data (recorded in ENF manifests and cache keys)."""
        out: dict[str, Any] = {}
        if self.permute_input is not None:
            out["permute_input"] = [list(p) for p in self.permute_input]
        for key in ("remove_lower", "remove_unlower", "use_program_loading"):
            if getattr(self, key):
                out[key] = True
        out.update(_plain(dict(self.accepted)))
        return dict(sorted(out.items()))
