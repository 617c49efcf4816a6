"""The reports' building blocks: sample files, synthetic data, error metrics, SVG charts."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from furiosa.quantizer.report import ErrorStats, InputInfo, load, synthetic
from furiosa.quantizer.report import svg
from furiosa.quantizer.report.data import datasets

IMAGE = InputInfo("image", (1, 3, 4, 4), np.dtype(np.float32))
BATCH = InputInfo("x", (2, 5), np.dtype(np.float32))
IDS = InputInfo("ids", (2, 5), np.dtype(np.int64))


def test_npy_holds_stacked_samples_or_batch_rows(tmp_path):
    stacked = np.random.default_rng(0).standard_normal((3, 1, 3, 4, 4))
    np.save(tmp_path / "stacked.npy", stacked)  # float64: rounded to the input's float32
    samples = load(tmp_path / "stacked.npy", [IMAGE])
    assert len(samples) == 3 and samples[0][0].dtype == np.float32 and samples[2][0].shape == (1, 3, 4, 4)
    np.testing.assert_array_equal(samples[1][0], stacked[1].astype(np.float32))
    rows = np.arange(35, dtype=np.float32).reshape(7, 5)  # 7 rows of a batch-2 input: 3 batches, 1 row left out
    np.save(tmp_path / "rows.npy", rows)
    batches = load(tmp_path / "rows.npy", [BATCH])
    assert len(batches) == 3 and np.array_equal(batches[2][0], rows[4:6])


def test_npz_names_arrays_after_the_inputs_or_by_position(tmp_path):
    x = np.ones((4, 2, 5), np.float32)
    ids = np.arange(40).reshape(4, 2, 5)
    np.savez(tmp_path / "named.npz", ids=ids, x=x)
    np.savez(tmp_path / "positional.npz", x, ids)
    for name in ("named.npz", "positional.npz"):
        samples = load(tmp_path / name, [BATCH, IDS])
        assert len(samples) == 4 and samples[3][1].dtype == np.int64 and np.array_equal(samples[3][1], ids[3])
    np.savez(tmp_path / "other.npz", y=x)
    with pytest.raises(ValueError, match="no array for input 'x' .*arrays: y"):
        load(tmp_path / "other.npz", [BATCH, IDS])
    np.savez(tmp_path / "uneven.npz", x=x, ids=ids[:3])
    with pytest.raises(ValueError, match="different numbers of samples"):
        load(tmp_path / "uneven.npz", [BATCH, IDS])


def test_bad_files_are_explained(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \[3, 3, 3\]; input 'image' \[1, 3, 4, 4\] \(float32\) takes samples"):
        load(tmp_path / "wrong.npy", [IMAGE])
    np.save(tmp_path / "floats.npy", np.zeros((2, 2, 5), np.float32))
    with pytest.raises(ValueError, match="dtype float32; input 'ids' .* takes int64"):
        load(tmp_path / "floats.npy", [IDS])
    with pytest.raises(ValueError, match="holds one array but the model has 2 inputs"):
        load(tmp_path / "floats.npy", [BATCH, IDS])
    (tmp_path / "text.npy").write_text("hello")
    with pytest.raises(ValueError, match="not a .npy or .npz file"):
        load(tmp_path / "text.npy", [IMAGE])
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "absent.npy", [IMAGE])


def test_synthetic_data_and_the_note_that_goes_with_it(tmp_path):
    samples = synthetic([IMAGE, IDS], 5, seed=3)
    assert len(samples) == 5 and samples[0][0].dtype == np.float32 and samples[0][1].dtype == np.int64
    assert np.array_equal(samples[4][0], synthetic([IMAGE, IDS], 5, seed=3)[4][0])
    plan = datasets([IMAGE], samples=4)
    assert plan.synthetic and len(plan.calibration) == len(plan.evaluation) == 4
    assert not np.array_equal(plan.calibration[0][0], plan.evaluation[0][0])
    assert "not task accuracy" in plan.notes[0]
    np.save(tmp_path / "cal.npy", np.zeros((2, 1, 3, 4, 4), np.float32))
    only_calibration = datasets([IMAGE], calibration=tmp_path / "cal.npy")
    assert only_calibration.evaluation is only_calibration.calibration and "are evaluated" in only_calibration.notes[0]
    with pytest.raises(ValueError, match="must be positive"):
        synthetic([IMAGE], 0)


def test_error_metrics():
    x = np.array([3.0, 4.0, 0.0], np.float32)
    stats = ErrorStats()
    stats.update(x, x + np.array([0.0, 0.5, 0.0], np.float32))
    result = stats.result()
    assert result.sqnr_db == pytest.approx(10 * math.log10(25 / 0.25))
    assert result.cosine == pytest.approx(float(x @ (x + [0, 0.5, 0])) / (5 * np.linalg.norm(x + [0, 0.5, 0])))
    assert result.max_abs_error == pytest.approx(0.5) and result.elements == 3
    exact = ErrorStats()
    exact.update(x, x)
    assert exact.result().sqnr_db == math.inf and exact.result().cosine == pytest.approx(1.0)
    assert exact.result().to_dict()["sqnr_db"] is None and exact.result().to_dict()["exact"] is True
    with pytest.raises(ValueError, match="cannot compare"):
        exact.update(x, x[:2])


def test_charts_are_well_formed_svg():
    charts = [
        svg.histogram([0.0, 1.0, 2.0, 3.0], [5, 0, 2], (0.0, 2.0), title="a <tensor>"),
        svg.lines(["0", "1", "2"], {"own": [30.0, math.inf, None], "accumulated": [20.0, 25.0, 10.0]}, threshold=25),
        svg.scatter([svg.Point(10.0, 1.0, "g", "p & q", True), svg.Point(100.0, 0.5, "h")], x_label="x", y_label="y",
                    log_x=True),
    ]
    for chart in charts:
        root = ElementTree.fromstring(chart)
        assert root.tag.endswith("svg")
    assert "a &lt;tensor&gt;" in charts[0] and "p &amp; q" in charts[2]
