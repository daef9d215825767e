"""Small hand-built Q/DQ graphs for the TensorRT conformance tests: one that follows every rule,
and a way to break exactly one rule at a time."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def conv_graph(
    *,
    act_type=np.int8,
    act_zero_point: int = 0,
    weight_type=np.int8,
    weight_axis: int = 0,
    bias_through_dq: bool = False,
    dq_reader: str | None = None,
    dq_into_q: bool = False,
    q_reader: str | None = None,
    float_weight: bool = False,
    without_input_qdq: bool = False,
) -> onnx.ModelProto:
    """x → Q → DQ → Conv(W via DQ) → y, a TensorRT-clean int8 convolution, with one knob per
    rule to break it."""
    rng = np.random.default_rng(0)
    inits = [
        _init("x_scale", np.array(0.02, np.float32)),
        _init("x_zp", np.array(act_zero_point, act_type)),
        _init("w_q", rng.integers(-100, 100, (4, 3, 3, 3)).astype(weight_type)),
        _init("w_scale", np.full(4 if weight_axis == 0 else 3, 0.01, np.float32)),
        _init("w_zp", np.zeros(4 if weight_axis == 0 else 3, weight_type)),
        _init("b", np.zeros(4, np.float32)),
    ]
    nodes = []
    conv_in = "x"
    if not without_input_qdq:
        nodes.append(helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["x_q"], name="x_Q"))
        nodes.append(helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zp"], ["x_dq"], name="x_DQ"))
        conv_in = "x_dq"
    if float_weight:
        inits.append(_init("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)))
        nodes.append(helper.make_node("Conv", [conv_in, "w", "b"], ["y"], name="conv"))
    else:
        nodes.append(
            helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w_dq"], name="w_DQ", axis=weight_axis)
        )
        bias = "b"
        if bias_through_dq:
            inits += [
                _init("b_q", np.zeros(4, np.int32)),
                _init("b_scale", np.full(4, 2e-4, np.float32)),
            ]
            nodes.append(helper.make_node("DequantizeLinear", ["b_q", "b_scale"], ["b_dq"], name="b_DQ", axis=0))
            bias = "b_dq"
        nodes.append(helper.make_node("Conv", [conv_in, "w_dq", bias], ["y"], name="conv"))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])]
    if dq_reader:  # e.g. a residual Add reading the dequantized input
        nodes.append(helper.make_node(dq_reader, ["x_dq", "x_dq"], ["side"], name="side_reader"))
        outputs.append(helper.make_tensor_value_info("side", TensorProto.FLOAT, [1, 3, 8, 8]))
    if dq_into_q:
        nodes.append(helper.make_node("QuantizeLinear", ["x_dq", "x_scale", "x_zp"], ["x_qq"], name="requant_Q"))
        nodes.append(helper.make_node("DequantizeLinear", ["x_qq", "x_scale", "x_zp"], ["x_dqq"], name="requant_DQ"))
        nodes.append(helper.make_node("Conv", ["x_dqq", "w_dq"], ["y2"], name="conv2"))
        outputs.append(helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 4, 6, 6]))
    if q_reader:
        nodes.append(helper.make_node(q_reader, ["x_q"], ["q_side"], name="q_side_reader"))
        outputs.append(helper.make_tensor_value_info("q_side", TensorProto.INT8, [1, 3, 8, 8]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], outputs, inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
