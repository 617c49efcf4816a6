"""Compiler configuration: every known key accepted with its type checked, unknown keys refused."""
from __future__ import annotations

import pytest

from furiosa.common.errors import InvalidConfigError
from furiosa.compiler.config import KEYS, CompilerConfig


def test_defaults():
    assert CompilerConfig.from_mapping(None) == CompilerConfig.from_mapping({}) == CompilerConfig()


@pytest.mark.parametrize("config", [
    {"permute_input": [[0, 3, 1, 2]]}, {"remove_lower": True}, {"remove_unlower": False},
    {"use_program_loading": True}, {"allow_precision_error": True}, {"split_unit": 3},
    {"keep_unsignedness": True}, {"sa_malloc": True}, {"progress_mode": "ProgressBar"},
    {"max_operation_memory_ratio": 0.9}, {"target_pes": [0, 1]},
    {"without_quantize": {"parameters": [{"input_min": 0.0, "input_max": 1.0, "permute": [0, 2, 3, 1]}]}},
])
def test_known_keys_are_accepted(config):
    CompilerConfig.from_mapping(config)


def test_every_documented_key_is_known():
    for key in ("permute_input", "remove_lower", "remove_unlower", "use_program_loading", "keep_unsignedness",
                "split_unit", "sa_malloc", "allow_precision_error", "use_atrr_lifetime", "without_quantize"):
        assert key in KEYS


def test_unknown_key():
    with pytest.raises(InvalidConfigError, match="INVALID_COMPILER_CONFIG_NAME"):
        CompilerConfig.from_mapping({"INVALID_COMPILER_CONFIG_NAME": True})


@pytest.mark.parametrize("config, kind", [
    ({"remove_lower": 1}, "bool"), ({"split_unit": True}, "int"), ({"split_unit": 1.5}, "int"),
    ({"permute_input": [0, 3, 1, 2]}, "list of int lists"), ({"progress_mode": 3}, "string"),
])
def test_wrong_types(config, kind):
    with pytest.raises(InvalidConfigError, match=kind):
        CompilerConfig.from_mapping(config)


def test_permutations_are_checked():
    with pytest.raises(InvalidConfigError, match="not a permutation"):
        CompilerConfig.from_mapping({"permute_input": [[0, 1, 1, 2]]})


def test_yaml_files(tmp_path, vendor):
    assert CompilerConfig.from_yaml(vendor / "compiler_config.yaml").to_mapping() == {"sa_malloc": True}
    bad = tmp_path / "bad.yaml"
    bad.write_text("remove_lower: [unclosed\n")
    with pytest.raises(InvalidConfigError, match="not valid YAML"):
        CompilerConfig.from_yaml(bad)
    with pytest.raises(InvalidConfigError, match="cannot read"):
        CompilerConfig.from_yaml(tmp_path / "absent.yaml")
