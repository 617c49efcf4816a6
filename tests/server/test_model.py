"""NPUModel / FuriosaRTModel / NuxModel: load, predict, unload (spec §11.1)."""
from __future__ import annotations

import asyncio
import warnings

import numpy as np
import pytest

import furiosa.server
from furiosa.server import model as server_model
from furiosa.server.errors import InvalidRequest, ModelNotReady
from furiosa.server.model import (
    AsyncNuxModel,
    FuriosaRTModel,
    FuriosaRTModelConfig,
    NPUModel,
    NPUModelConfig,
    NuxModel,
    NuxModelConfig,
    OpenVINOModel,
)
from furiosa.server.settings import ModelConfig, OpenVINOModelConfig
from furiosa.server.types import InferenceRequest

from .conftest import HAS_SERVER


@pytest.fixture(autouse=True)
def private(device_dir):
    return device_dir


def test_names_the_documentation_and_the_release_use():
    assert NPUModel is FuriosaRTModel and NPUModelConfig is FuriosaRTModelConfig
    assert NuxModelConfig is FuriosaRTModelConfig and issubclass(NuxModel, FuriosaRTModel)
    assert furiosa.server.NPUModel is NPUModel and furiosa.server.NPUModelConfig is NPUModelConfig
    for name in ("ModelServer", "Model", "FuriosaRTModel", "OpenVINOModel", "NuxModel", "AsyncNuxModel",
                 "ModelConfig", "FuriosaRTModelConfig", "OpenVINOModelConfig", "ServerConfig", "ModelNotFound",
                 "ModelServerError"):
        assert name in furiosa.server.__all__
        if name != "ModelServer" or HAS_SERVER:
            assert getattr(furiosa.server, name) is not None


def test_load_in_one_loop_predict_in_others(cnn_path, image):
    """The documentation's sample: asyncio.run(startup()) then asyncio.run(run(image))."""
    from furiosa.runtime import sync

    model = NPUModel(NPUModelConfig(name="cnn", model=str(cnn_path)))
    assert not model.ready and model.name == "cnn" and model.version is None
    assert asyncio.run(model.load()) is True and model.ready
    first = asyncio.run(model.predict(image))
    second = asyncio.run(model.predict([image]))
    asyncio.run(model.unload())
    assert not model.ready
    with sync.create_runner(str(cnn_path)) as runner:
        expected = runner.run(image)
    assert isinstance(first, list) and np.array_equal(first[0], expected[0]) and np.array_equal(second[0], expected[0])


def test_model_bytes_and_concurrent_predictions(cnn_path):
    from examples.zoo import calibration_data, small_cnn

    images = [d["input"] for d in calibration_data(small_cnn(), 6, seed=3)]

    async def main():
        model = FuriosaRTModel(FuriosaRTModelConfig(name="cnn", model=cnn_path.read_bytes(), worker_num=2))
        await model.load()
        try:
            together = await asyncio.gather(*(model.predict(x) for x in images))
            alone = [await model.predict(x) for x in images]
        finally:
            await model.unload()
        return together, alone

    together, alone = asyncio.run(main())
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(together, alone))


def test_inference_request_gives_the_same_numbers(cnn_path, image):
    async def main():
        model = NPUModel(NPUModelConfig(name="cnn", model=str(cnn_path), version="3"))
        await model.load()
        try:
            request = InferenceRequest.parse_obj({"id": "a", "inputs": [
                {"name": "input", "shape": [1, 3, 16, 16], "datatype": "FP32", "data": image.reshape(-1).tolist()}]})
            return await model.predict(request), await model.predict(image), await model.metadata()
        finally:
            await model.unload()

    response, arrays, metadata = asyncio.run(main())
    assert response.model_name == "cnn" and response.model_version == "3" and response.id == "a"
    (output,) = response.outputs
    assert output.name == "0" and output.datatype == "FLOAT32" and output.shape == [1, 10]
    assert np.array_equal(np.array(output.data, np.float32).reshape(1, 10), arrays[0])
    assert metadata.versions == ["3"] and metadata.platform == "npu" and metadata.inputs[0].name == "input"


def test_errors_before_load_and_bad_inputs(cnn_path, image):
    model = NPUModel(NPUModelConfig(name="cnn", model=str(cnn_path)))
    with pytest.raises(ModelNotReady, match="Model cnn is not loaded: call 'await model.load\\(\\)' first"):
        asyncio.run(model.predict(image))

    async def wrong():
        await model.load()
        try:
            with pytest.raises(ValueError, match="bad shape"):
                await model.predict(np.zeros((1, 3, 8, 8), np.float32))
            request = InferenceRequest(inputs=[{"name": "input", "shape": [2], "datatype": "FP32", "data": [1, 2]}])
            with pytest.raises(InvalidRequest, match="768 elements"):
                await model.predict(request)
            return await model.predict(image)  # still serving
        finally:
            await model.unload()

    assert asyncio.run(wrong())[0].shape == (1, 10)


def test_unload_releases_the_device(cnn_path):
    config = NPUModelConfig(name="cnn", model=str(cnn_path), npu_device="npu:0:0")

    async def main():
        first = NPUModel(config)
        await first.load()
        second = NPUModel(config)
        with pytest.raises(Exception, match="(?i)busy"):
            await second.load()
        assert not second.ready
        await first.unload()
        await first.unload()  # twice is fine
        assert await second.load()
        await second.unload()

    asyncio.run(main())


def test_nux_model_is_deprecated_but_works(cnn_path, image):
    with pytest.warns(FutureWarning, match="NuxModel is deprecated: use NPUModel instead"):
        model = NuxModel(NuxModelConfig(name="cnn", model=str(cnn_path)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert isinstance(AsyncNuxModel(NuxModelConfig(name="cnn", model=str(cnn_path))), FuriosaRTModel)
    asyncio.run(model.load())
    assert asyncio.run(model.predict(image))[0].shape == (1, 10)
    asyncio.run(model.unload())


def test_wrong_configurations():
    with pytest.raises(TypeError, match="takes a FuriosaRTModelConfig"):
        FuriosaRTModel(ModelConfig(name="x"))
    with pytest.raises(NotImplementedError, match="OpenVINOModel is not provided"):
        OpenVINOModel(OpenVINOModelConfig(name="x", model="m.onnx"))
    missing = NPUModel(NPUModelConfig(name="gone", model="/nonexistent/model.onnx"))
    with pytest.raises(Exception, match="nonexistent"):
        asyncio.run(missing.load())
    assert not missing.ready
    assert server_model.Model.__abstractmethods__ == frozenset({"predict"})
