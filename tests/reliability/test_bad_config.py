"""Bad compiler configurations, compile options and device strings: documented errors, clear
messages, nothing cached, devices released, and no time lost (no pathological parsing)."""
from __future__ import annotations

import subprocess
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from furiosa.common.errors import DeviceError, InvalidConfigError, InvalidDeviceConfigError
from furiosa.compiler import cache
from furiosa.compiler.config import CompilerConfig
from furiosa.compiler.pipeline import compile_data
from furiosa.device.config import parse
from furiosa.runtime import errors as rt_errors

from .conftest import TIME_LIMIT, cache_entries, error_line, refused, tool, within
from .corpus import qdq_cnn

# --- compiler configurations -----------------------------------------------------------------------------
BAD_CONFIGS = [
    # (configuration, words of the message)
    ({"INVALID_COMPILER_CONFIG_NAME": True}, ("unknown", "INVALID_COMPILER_CONFIG_NAME")),
    ({"remove_lowr": True}, ("unknown", "remove_lowr")),
    ({1: True}, ("unknown", "1")),
    ({"remove_lower": 1}, ("remove_lower", "bool")),
    ({"remove_unlower": "yes"}, ("remove_unlower", "bool")),
    ({"use_program_loading": [True]}, ("use_program_loading", "bool")),
    ({"split_unit": True}, ("split_unit", "int")),
    ({"split_unit": 2.5}, ("split_unit", "int")),
    ({"max_operation_memory_ratio": "0.5"}, ("max_operation_memory_ratio", "number")),
    ({"progress_mode": 3}, ("progress_mode", "string")),
    ({"target_pes": [0, "1"]}, ("target_pes", "list of int")),
    ({"permute_input": [0, 3, 1, 2]}, ("permute_input", "list of int lists")),
    ({"permute_input": "0312"}, ("permute_input", "list of int lists")),
    ({"permute_input": [[0, 1, 1, 2]]}, ("not a permutation",)),
    ({"permute_input": [[0, 2, 3, 4]]}, ("not a permutation",)),
    ({"permute_input": [[0, 3, 1, 2], [0, 1, 2, 3]]}, ("2 entries", "1 inputs")),
    ({"permute_input": [[1, 0]]}, ("2 axes",)),
    ({"permute_input": [[0, 3, 1, 2]], "remove_lower": True}, ("permute_input", "remove_lower")),
    ({"without_quantize": {"parameters": [{"input_min": "0"}]}}, ("without_quantize",)),
    ({"without_quantize": [1]}, ("without_quantize",)),
]


@pytest.mark.parametrize("config, words", BAD_CONFIGS, ids=lambda v: repr(v)[:40])
def test_bad_configurations_are_refused(config, words, tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE_STORE_URL", str(tmp_path / "cache"))
    cache.reset()
    with within(TIME_LIMIT), pytest.raises(InvalidConfigError) as info:
        cache.compile_cached(qdq_cnn(), config=config)
    refused(info.value, *words)
    assert cache_entries(tmp_path / "cache") == {}


@pytest.mark.parametrize("config", [None, [], "remove_lower: true", 1, ("remove_lower", True)], ids=repr)
def test_a_configuration_that_is_not_a_mapping(config):
    if config is None:
        compile_data(qdq_cnn(), config=config)  # None means the defaults
        return
    with pytest.raises(InvalidConfigError, match="mapping"):
        CompilerConfig.from_mapping(config)


@pytest.mark.parametrize("options, words", [
    ({"target": "warboy-3pe"}, ("warboy-3pe", "warboy-2pe")), ({"target": ""}, ("target",)),
    ({"batch_size": 0}, ("batch size", "0")), ({"batch_size": -1}, ("batch size", "-1")),
    ({"batch_size": True}, ("batch size",)), ({"batch_size": "2"}, ("batch size",)),
    ({"batch_size": 1.0}, ("batch size",)),
], ids=repr)
def test_bad_compile_options(options, words, tmp_path, monkeypatch):
    monkeypatch.setenv("FC_CACHE_STORE_URL", str(tmp_path / "cache"))
    cache.reset()
    with pytest.raises(InvalidConfigError) as info:
        cache.compile_cached(qdq_cnn(), **options)
    refused(info.value, *words)
    assert cache_entries(tmp_path / "cache") == {}


@pytest.mark.parametrize("config, error", [
    ({"remove_lower": 1}, rt_errors.InvalidCompilerConfig), ({"no_such_key": 1}, rt_errors.InvalidCompilerConfig),
    ({"permute_input": [[0, 1, 1, 2]]}, rt_errors.InvalidCompilerConfig),
    ({"permute_input": [[1, 0]]}, rt_errors.InvalidCompilerConfig),
    ([("remove_lower", True)], TypeError), ("remove_lower", TypeError),
], ids=repr)
def test_the_runtime_reports_bad_configurations(config, error, devices, cache_dir):
    from furiosa.runtime import session, sync

    with within(TIME_LIMIT), pytest.raises(error) as info:
        sync.create_runner(qdq_cnn(), compiler_config=config)
    refused(info.value)
    if error is rt_errors.InvalidCompilerConfig:
        assert isinstance(info.value, rt_errors.FuriosaRuntimeError)
        assert str(info.value).startswith("invalid compiler config: ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(error):
            session.create(qdq_cnn(), compiler_config=config)
    assert cache_entries(cache_dir) == {}
    with sync.create_runner(qdq_cnn()):  # the device was released
        pass


@pytest.mark.parametrize("text, words", [
    ("remove_lower: [unclosed\n", ("not valid YAML",)), ("- remove_lower\n", ("mapping",)),
    ("remove_lower: 1\n", ("remove_lower", "bool")), ("no_such_key: true\n", ("no_such_key",)),
], ids=repr)
def test_bad_configuration_files(text, words, tmp_path, cli_env):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(InvalidConfigError) as info:
        CompilerConfig.from_yaml(path)
    refused(info.value, *words)
    model = tmp_path / "model.onnx"
    model.write_bytes(qdq_cnn())
    with within(TIME_LIMIT):
        result = subprocess.run([tool("furiosa-bench"), str(model), "-C", str(path), "-o", "out.json"], cwd=tmp_path,
                                env=cli_env, capture_output=True, text=True, timeout=TIME_LIMIT * 3)
    line = error_line(result)
    assert all(w.lower() in line.lower() for w in words), line
    assert not (tmp_path / "out.json").exists()


# --- device strings ---------------------------------------------------------------------------------------
VALID = ["warboy(2)*1", "warboy*1", "warboy(1)*2", "npu0pe0", "npu0pe0-1", "npu:0:0", "npu:0:0-1", "npu:1",
         "npu0pe0,npu0pe1", "npu:1:0-1,npu:2:0-1"]
#: characters that appear nowhere in the grammar: any string holding one is invalid
POISON = [" ", "\t", "\n", "\x00", "W", "P", "#", "+", ".", ";", "/", "_", "é", "\u0663", "\uff11", "\u200b",
          "\U0001F600"]


@st.composite
def poisoned(draw) -> str:
    text = draw(st.sampled_from(VALID))
    position = draw(st.integers(0, len(text)))
    return text[:position] + draw(st.sampled_from(POISON)) + text[position:]


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(text=poisoned())
def test_device_strings_outside_the_grammar_are_refused(text):
    with pytest.raises(InvalidDeviceConfigError) as info:
        parse(text)
    assert str(info.value) == f"invalid device configuration: {text}"
    assert isinstance(info.value, (ValueError, DeviceError))


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(text=st.one_of(st.text(max_size=40), st.text(alphabet="warboynpue:()*,-0123456789", max_size=30)))
def test_any_text_is_parsed_or_refused_quickly(text):
    started = time.monotonic()
    try:
        spec = parse(text)
    except InvalidDeviceConfigError as error:
        assert str(error) == f"invalid device configuration: {text}"
    else:
        assert spec.text == text and spec.elements
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("text", ["npu0pe0," * 200_000 + "x", "warboy(" + "9" * 100_000 + ")*1",
                                  "npu:" + "0" * 500_000, "," * 1_000_000])
def test_long_device_strings_are_refused_quickly(text):
    with within(2.0, "parsing a long device string"), pytest.raises(InvalidDeviceConfigError):
        parse(text)


@pytest.mark.parametrize("device", [" warboy*1", "warboy(2)*1 ", "WARBOY*1", "npu0pe", "npu:0:1-0", "warboy*256",
                                    "npu0pe0,", "", "npu:0:0\n", "npu\u0663pe0"])
def test_the_runtime_refuses_invalid_device_strings(device, devices, cache_dir):
    from furiosa.runtime import session, sync

    with within(TIME_LIMIT), pytest.raises(rt_errors.FuriosaRuntimeError) as info:
        sync.create_runner(qdq_cnn(), device=device)
    assert type(info.value) is rt_errors.FuriosaRuntimeError
    assert str(info.value) == f"invalid device configuration: {device}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(rt_errors.FuriosaRuntimeError, match="invalid device configuration"):
            session.create(qdq_cnn(), device=device)


@pytest.mark.parametrize("device, words", [
    ("npu:7:0", "Fail to find device"), ("npu0pe2", "Fail to find device"), ("warboy(2)*3", "No available device"),
    ("warboy(3)*1", "Fail to find device"), ("warboy(2)*0", "No available device"),
    ("npu:0:0,npu:0:0", "more than once"),
    ("npu:0:0,npu:0:0-1", "npu0pe0 more than once"),
], ids=str)
def test_device_strings_naming_what_is_not_there(device, words, devices, cache_dir, monkeypatch):
    from furiosa.runtime import sync

    monkeypatch.setenv("FURIOSA_EMU_NPUS", "1")
    with within(TIME_LIMIT), pytest.raises(rt_errors.FuriosaRuntimeError) as info:
        sync.create_runner(qdq_cnn(), device=device)
    refused(info.value, words)
    with sync.create_runner(qdq_cnn(), device="warboy(2)*1"):  # nothing stayed locked
        pass


@pytest.mark.parametrize("device", [1, b"warboy*1", ["warboy*1"], object()], ids=repr)
def test_a_device_that_is_not_a_string(device, devices):
    from furiosa.runtime import sync

    with pytest.raises(TypeError, match="device"):
        sync.create_runner(qdq_cnn(), device=device)


def test_a_bad_device_environment(devices, monkeypatch):
    from furiosa.runtime import sync

    monkeypatch.setenv("FURIOSA_DEVICES", "warboy(2)*1 ")
    with pytest.raises(rt_errors.FuriosaRuntimeError, match="invalid device configuration"):
        sync.create_runner(qdq_cnn())


@pytest.mark.parametrize("name, value", [
    ("FURIOSA_EMU_THREADS", "0"), ("FURIOSA_EMU_THREADS", "many"), ("FURIOSA_EMU_PACE", "maybe"),
    ("FURIOSA_EMU_KERNELS", "gpu"), ("FURIOSA_EMU_NPUS", "-1"),
], ids=repr)
def test_bad_emulator_settings_are_runtime_errors_naming_the_variable(name, value, devices, cache_dir, monkeypatch):
    from furiosa.runtime import sync

    monkeypatch.setenv(name, value)
    with within(TIME_LIMIT), pytest.raises(rt_errors.FuriosaRuntimeError) as info:
        sync.create_runner(qdq_cnn())
    assert name in str(info.value) and repr(value) in str(info.value)
    monkeypatch.delenv(name)
    with sync.create_runner(qdq_cnn()):  # nothing was left held
        pass
