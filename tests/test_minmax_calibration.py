"""Streaming min/max calibration (issue 19): the ranges onnxruntime's in-memory calibrator finds,
on a hand-made graph with known answers and on the tiny UNet; the QDQ graph `quantize_static`
builds from them; weights in external data never loaded into the augmented copy."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgegen.export.minmax_calibration import augment_with_reductions, stream_minmax, tensors_to_calibrate
from edgegen.types import Component


def _relu_conv(path):
    """x -> Conv(w=1, 1x1) -> Relu -> y: the Conv's input and output are the tensors to calibrate."""
    w = onnx.numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])],
        [w],
    )
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def test_ranges_are_the_running_min_and_max_over_samples(tmp_path):
    graph = _relu_conv(tmp_path / "g.onnx")
    samples = [
        {"x": np.array([[[[1.0, -2.0], [3.0, 0.5]]]], np.float32)},
        {"x": np.array([[[[-5.0, 2.0], [np.nan, 4.0]]]], np.float32)},  # NaN ignored, as nanmin does
    ]
    ranges, count = stream_minmax(graph, ["Conv"], iter(samples))
    assert count == 2
    assert set(ranges) == {"x", "c"}  # the Relu's output is not around a Conv: not calibrated
    np.testing.assert_array_equal(ranges["x"][0], [-5.0])
    np.testing.assert_array_equal(ranges["x"][1], [4.0])
    assert ranges["c"][0].dtype == np.float32 and ranges["c"][0].shape == (1,)
    assert not list(tmp_path.glob(".*calib*"))  # the augmented copy is gone


def test_no_samples_and_no_tensors_are_errors(tmp_path):
    graph = _relu_conv(tmp_path / "g.onnx")
    with pytest.raises(ValueError, match="no calibration samples"):
        stream_minmax(graph, ["Conv"], iter([]))
    with pytest.raises(ValueError, match="no float tensor"):
        stream_minmax(graph, ["Gemm"], iter([]))


def test_reductions_sit_right_after_their_producer(tmp_path):
    model = onnx.shape_inference.infer_shapes(onnx.load(str(_relu_conv(tmp_path / "g.onnx"))))
    names = augment_with_reductions(model, tensors_to_calibrate(model, ["Conv"]))
    order = [n.name for n in model.graph.node]
    assert order == ["x__calib_min", "x__calib_max", "conv", "c__calib_min", "c__calib_max", "relu"]
    assert names == ["x__calib_min", "x__calib_max", "c__calib_min", "c__calib_max"]
    onnx.checker.check_model(model)


@pytest.fixture(scope="module")
def tiny_unet(tiny_pipeline, tmp_path_factory):
    from edgegen.data.load import load_dataset
    from edgegen.export.calibration import iter_sd_calibration
    from edgegen.export.components import EXPORTS
    from edgegen.export.onnx_io import torch_to_onnx

    tmp = tmp_path_factory.mktemp("unet")
    spec = EXPORTS[Component.UNET](tiny_pipeline)
    sample = spec.sample_inputs(1, 64, np.random.default_rng(0))
    raw = torch_to_onnx(spec.module(), sample, spec.input_names, spec.output_names, spec.dynamic_axes(), 17, tmp)
    data = load_dataset("kermany-128", "val", 64)

    def samples(batch=2):
        return iter_sd_calibration(tiny_pipeline, Component.UNET, data, 64, 8, encode_batch=batch)

    return raw, spec, samples


def test_streamed_ranges_equal_onnxruntime_in_memory_calibrator(tiny_unet, tmp_path):
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    graph, spec, samples = tiny_unet
    listed = list(samples(batch=8))

    class Reader:
        def __init__(self):
            self.it = iter(listed)

        def get_next(self):
            return next(self.it, None)

    calibrator = create_calibrator(
        graph, list(spec.int8_op_types), tmp_path / "aug.onnx", calibrate_method=CalibrationMethod.MinMax
    )
    calibrator.collect_data(Reader())
    reference = calibrator.compute_data().data
    ranges, count = stream_minmax(graph, spec.int8_op_types, samples())  # a generator, consumed once
    assert count == 8
    assert ranges.keys() == reference.keys() and len(ranges) > 20
    for name, (lo, hi) in ranges.items():
        np.testing.assert_array_equal(lo, reference[name].range_value[0], err_msg=name)
        np.testing.assert_array_equal(hi, reference[name].range_value[1], err_msg=name)
        assert lo[0] < hi[0]


def _graph_signature(path):
    model = onnx.load(str(path))
    nodes = [(n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    return nodes, inits


def test_qdq_graph_is_the_one_quantize_static_builds(tiny_unet, tmp_path):
    """quantize_qdq (streamed ranges through the calibration cache) vs onnxruntime calibrating in
    memory, on the same graph and samples; and on the graph with its weights in external data."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from edgegen.export.int8 import _name_nodes, activation_matmuls, quantize_qdq
    from edgegen.export.int8_schemes import Int8Scheme, scheme_options

    graph, spec, samples = tiny_unet
    named = tmp_path / "named.onnx"
    model = onnx.load(str(graph))
    _name_nodes(model)
    onnx.save_model(model, str(named))
    options = scheme_options(Int8Scheme.CPU_U8S8)

    class Reader:
        def __init__(self):
            self.it = samples(batch=8)

        def get_next(self):
            return next(self.it, None)

    reference = tmp_path / "reference.onnx"
    quantize_static(
        str(named),
        str(reference),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(spec.int8_op_types),
        per_channel=True,
        activation_type=getattr(QuantType, options.activation_type),
        weight_type=QuantType.QInt8,
        nodes_to_exclude=activation_matmuls(model),
        calibrate_method=CalibrationMethod.MinMax,
        extra_options=options.extra_options(),
    )
    external = tmp_path / "ext" / "unet.onnx"
    external.parent.mkdir()
    onnx.save_model(
        onnx.load(str(graph)), str(external), save_as_external_data=True, location="w.data", size_threshold=0
    )
    want_nodes, want_inits = _graph_signature(reference)
    for source in (graph, external):
        work = tmp_path / f"work-{source.parent.name}"
        work.mkdir()
        info = quantize_qdq(source, work / "q.onnx", spec.int8_op_types, samples(), work)
        assert info["calibration_samples"] == 8 and info["nodes_quantized"] > 10
        nodes, inits = _graph_signature(work / "q.onnx")
        assert nodes == want_nodes
        assert inits.keys() == want_inits.keys()
        for name, value in inits.items():
            np.testing.assert_array_equal(value, want_inits[name], err_msg=name)
    assert sorted(p.name for p in external.parent.iterdir()) == ["unet.onnx", "w.data"]  # no leftovers beside it
