"""Models the server serves (spec/toolchain-api.md §11.1).

:class:`FuriosaRTModel` (``NPUModel`` in the 0.10 documentation, ``NuxModel`` in older ones)
runs a model on emulated NPUs through ``furiosa.runtime.create_runner``::

    model = NPUModel(NPUModelConfig(name="MNIST", model="mnist.onnx"))
    await model.load()
    outputs = await model.predict(image)          # numpy in, list of numpy out
    await model.unload()

A model loaded in one event loop predicts in any other (the documentation's sample loads in
one ``asyncio.run`` and predicts in a second): runners run inferences on their own threads.
``predict`` also takes a KServe v2 :class:`~furiosa.server.types.InferenceRequest` and answers
with an :class:`~furiosa.server.types.InferenceResponse` (see :mod:`furiosa.server.codec`).
"""
from __future__ import annotations

import abc
import logging
from typing import Any, Sequence

import numpy as np

from furiosa.common.errors import warn_user

from . import codec
from .errors import InvalidRequest, ModelNotReady
from .settings import (
    FuriosaRTModelConfig,
    ModelConfig,
    NPUModelConfig,
    NuxModelConfig,
    OpenVINOModelConfig,
)
from .types import InferenceRequest, InferenceResponse, MetadataModelResponse, RequestInput, ResponseOutput

log = logging.getLogger("furiosa.server")


class Model(abc.ABC):
    """A named, versioned model that can be loaded, asked to predict and unloaded."""

    def __init__(self, config: ModelConfig) -> None:
        if not isinstance(config, ModelConfig):
            raise TypeError(f"{type(self).__name__} takes a ModelConfig, not {type(config).__name__}")
        self.ready = False
        self._config = config

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def version(self) -> str | None:
        return self._config.version

    @property
    def config(self) -> ModelConfig:
        return self._config

    async def metadata(self) -> MetadataModelResponse:
        """Name, platform, versions and the tensors listed in the configuration."""
        return MetadataModelResponse(name=self.name, platform=self._config.platform,
                                     versions=[self.version or "default"],
                                     inputs=list(self._config.inputs or []),
                                     outputs=list(self._config.outputs or []))

    async def load(self) -> bool:
        self.ready = True
        return self.ready

    async def unload(self) -> None:
        self.ready = False

    @abc.abstractmethod
    async def predict(self, payload: Any) -> Any:
        """Run one inference."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r}, ready={self.ready})"


class FuriosaRTModel(Model):
    """A model run on (emulated) NPUs by a ``furiosa.runtime`` runner."""

    def __init__(self, config: FuriosaRTModelConfig) -> None:
        if not isinstance(config, FuriosaRTModelConfig):
            raise TypeError(f"{type(self).__name__} takes a FuriosaRTModelConfig (NPUModelConfig), not "
                            f"{type(config).__name__}: set 'model' (and platform: npu in config files)")
        super().__init__(config)
        self._runner: Any = None

    @property
    def config(self) -> FuriosaRTModelConfig:
        return self._config  # type: ignore[return-value]

    @property
    def runner(self) -> Any:
        """The ``furiosa.runtime`` runner (``ModelNotReady`` before :meth:`load`)."""
        if self._runner is None:
            raise ModelNotReady(f"Model {self.name} is not loaded: call 'await model.load()' first")
        return self._runner

    @property
    def inputs(self) -> list:
        """The loaded model's input ``TensorDesc`` list."""
        return self.runner.model.inputs()

    @property
    def outputs(self) -> list:
        """The loaded model's output ``TensorDesc`` list."""
        return self.runner.model.outputs()

    async def load(self) -> bool:
        """Compile (or read) the model and open its devices; a no-op when already loaded."""
        if self.ready:
            return True
        from furiosa.runtime import create_runner
        from furiosa.runtime._utils import default_device

        config = self.config
        device = config.npu_device or default_device()
        log.info("loading model %s (version %s) on %s", self.name, self.version or "default", device)
        self._runner = await create_runner(config.model, device=device, batch_size=config.batch_size,
                                           worker_num=config.worker_num, compiler_config=config.compiler_config)
        return await super().load()

    async def unload(self) -> None:
        """Close the runner and release its devices; a no-op when not loaded."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.close()
        await super().unload()

    async def run(self, inputs: Any) -> list[np.ndarray]:
        """``runner.run(inputs)``: a numpy array or a list of them, one per model input."""
        return await self.runner.run(inputs)

    async def predict(self, payload: Any) -> Any:
        """Numpy in, list of numpy out; or a KServe ``InferenceRequest`` in, ``InferenceResponse`` out."""
        if not isinstance(payload, InferenceRequest):
            return await self.run(payload)
        descs = self.inputs
        ordered = codec.match_inputs(payload.inputs, descs, self.name)
        arrays = [self.decode(desc, request, index) for index, (desc, request) in enumerate(zip(descs, ordered))]
        outputs = await self.run(arrays)
        encoded = [self.encode(str(i), array) for i, array in enumerate(outputs)]
        if payload.outputs:
            encoded = self._select(encoded, [o.name for o in payload.outputs])
        return InferenceResponse(model_name=self.name, model_version=self.version, id=payload.id, outputs=encoded)

    def _select(self, encoded: list[ResponseOutput], wanted: Sequence[str]) -> list[ResponseOutput]:
        """The outputs a request asks for, by position (``"0"``...) or by the model's output names."""
        names = [desc.name for desc in self.outputs]
        chosen = []
        for name in wanted:
            if name.isdigit() and int(name) < len(encoded):
                chosen.append(encoded[int(name)])
            elif name in names:
                output = encoded[names.index(name)]
                chosen.append(ResponseOutput(name=name, shape=output.shape, datatype=output.datatype,
                                             data=output.data))
            else:
                known = ", ".join([repr(str(i)) for i in range(len(encoded))] + [repr(n) for n in names if n])
                raise InvalidRequest(f"model {self.name} has no output {name!r} (outputs: {known})")
        return chosen

    def encode(self, name: str, payload: np.ndarray) -> ResponseOutput:
        """One output array as a KServe response tensor (numpy datatype names, flat data)."""
        return codec.encode(name, payload)

    def decode(self, tensor_desc: Any, request_input: RequestInput, index: int = 0) -> np.ndarray:
        """One request input as the array the model input ``tensor_desc`` takes (checked)."""
        return codec.decode(request_input, tensor_desc, index)

    async def metadata(self) -> MetadataModelResponse:
        """As :meth:`Model.metadata`; tensors not listed in the configuration come from the loaded model."""
        response = await super().metadata()
        if self._runner is None or (response.inputs and response.outputs):
            return response
        inputs = response.inputs or [codec.tensor_metadata(d, f"input{i}") for i, d in enumerate(self.inputs)]
        outputs = response.outputs or [codec.tensor_metadata(d, str(i)) for i, d in enumerate(self.outputs)]
        return MetadataModelResponse(name=response.name, platform=response.platform, versions=response.versions,
                                     inputs=inputs, outputs=outputs)


class NuxModel(FuriosaRTModel):
    """The pre-0.10 name of :class:`FuriosaRTModel` (deprecated: use ``NPUModel``)."""

    def __init__(self, config: FuriosaRTModelConfig) -> None:
        warn_user(f"{type(self).__name__} is deprecated: use NPUModel instead", FutureWarning)
        super().__init__(config)


class AsyncNuxModel(NuxModel):
    """The pre-0.10 queue-based model; deprecated: use ``NPUModel`` (it behaves the same)."""


class OpenVINOModel(Model):
    """The vendor's CPU model class for OpenVINO; this SDK does not provide it."""

    def __init__(self, config: OpenVINOModelConfig) -> None:
        raise NotImplementedError(
            "OpenVINOModel is not provided by this SDK (it runs models on the CPU through OpenVINO, "
            "not on an NPU); serve the model with NPUModel / FuriosaRTModel instead")

    async def predict(self, payload: Any) -> Any:  # pragma: no cover - never constructed
        raise NotImplementedError


#: The name used by the 0.10 documentation (the vendor's release calls it FuriosaRTModel).
NPUModel = FuriosaRTModel

__all__ = ["AsyncNuxModel", "FuriosaRTModel", "FuriosaRTModelConfig", "Model", "ModelConfig", "NPUModel",
           "NPUModelConfig", "NuxModel", "NuxModelConfig", "OpenVINOModel", "OpenVINOModelConfig"]
