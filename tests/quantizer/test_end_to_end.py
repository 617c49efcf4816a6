"""optimize → calibrate → quantize → compile → run on the emulator (issue 4's "Done when")."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from furiosa.optimizer import optimize_model
from furiosa.quantizer import CalibrationMethod, Calibrator, ModelEditor, TensorType, quantize
from furiosa.quantizer.qparams import activation_qparams
from furiosa.runtime import sync


def mnist_digits(count: int) -> np.ndarray:
    """scikit-learn's real handwritten digits, resized to MNIST's 20x20 box in 28x28 and normalized like MNIST."""
    pytest.importorskip("sklearn")
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    images = load_digits().images[:count] / 16.0
    out = np.zeros((count, 1, 28, 28), np.float32)
    for i, image in enumerate(images):
        out[i, 0, 4:24, 4:24] = np.clip(zoom(image, 2.5, order=1), 0, 1)
    return ((out - 0.1307) / 0.3081).astype(np.float32)


@pytest.fixture(scope="module")
def mnist():
    from tests.conftest import VENDOR

    if not (VENDOR / "mnist.onnx").is_file():
        pytest.skip("../shared/data/vendor is not available")
    model = optimize_model(onnx.load(str(VENDOR / "mnist.onnx")))
    images = mnist_digits(160)
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    for image in images[:60]:  # one image per call, as the vendor's example does
        calibrator.collect_data([[image[None]]])
    ranges = calibrator.compute_range()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = np.concatenate([session.run(None, {"input": image[None]})[0] for image in images[60:]])
    return model, ranges, images[60:], expected


def test_quantized_mnist_names_every_calibrated_tensor_and_agrees_with_float(mnist):
    model, ranges, images, expected = mnist
    data = quantize(model, ranges)
    metadata = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
    recorded = metadata["FurisoaAI.CalibrationResult"]
    tensors = ["input"] + [o for n in model.graph.node for o in n.output]
    assert set(ranges) == set(tensors)
    assert all(f"\n{name}:\n" in "\n" + recorded for name in tensors)
    with sync.create_runner(data) as runner:
        got = np.concatenate([runner.run([image[None]])[0] for image in images])
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.98
    # test digits may fall outside the range calibrated on others, so compare on average
    assert np.abs(got - expected).mean() < 0.02 * np.abs(expected).max()


def test_edited_mnist_takes_uint8_and_returns_int8(mnist):
    model, ranges, images, expected = mnist
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    editor = ModelEditor(edited)
    editor.convert_input_type("input", TensorType.UINT8)
    editor.convert_output_type("output", TensorType.INT8)
    qin = activation_qparams(*ranges["input"], "uint8")
    qout = activation_qparams(*ranges["output"], "int8")
    with sync.create_runner(quantize(edited, ranges)) as runner:
        assert runner.model.inputs()[0].dtype.numpy == np.uint8
        assert runner.model.outputs()[0].dtype.numpy == np.int8
        outputs = []
        for image in images:
            pixels = np.clip(np.rint(image[None] / qin.scale[0] + qin.zero_point[0]), 0, 255).astype(np.uint8)
            outputs.append(runner.run([pixels])[0])
    got = np.concatenate(outputs)
    assert got.dtype == np.int8
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.98
    dequantized = (got.astype(np.float32) - qout.zero_point[0]) * qout.scale[0]
    assert np.abs(dequantized - expected).mean() < 0.02 * np.abs(expected).max()


def test_09_keywords_compile_to_uint8_input_and_output(mnist):
    model, ranges, images, _ = mnist
    data = quantize(model, ranges, with_quantize=False, normalized_pixel_outputs=[0])
    with sync.create_runner(data) as runner:
        assert runner.model.inputs()[0].dtype.numpy == np.uint8
        assert runner.model.outputs()[0].dtype.numpy == np.uint8


@pytest.mark.slow
def test_torch_resnet50_default_export_end_to_end(tmp_path):
    from tests.optimizer.torch_models import ResNet50, export

    path = export(ResNet50(), (1, 3, 224, 224), tmp_path / "resnet50.onnx")
    assert (tmp_path / "resnet50.onnx.data").exists()
    model = optimize_model(onnx.load(str(path)))
    assert "BatchNormalization" not in [n.op_type for n in model.graph.node]
    rng = np.random.default_rng(0)
    samples = [rng.random((1, 3, 224, 224), dtype=np.float32) for _ in range(3)]
    calibrator = Calibrator(model, CalibrationMethod.MIN_MAX_ASYM)
    calibrator.collect_data([[s] for s in samples])
    data = quantize(model, calibrator.compute_range())
    name = model.graph.input[0].name
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {name: samples[0]})[0]
    with sync.create_runner(data) as runner:
        got = runner.run([samples[0]])[0]
    assert got.shape == expected.shape
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.9
