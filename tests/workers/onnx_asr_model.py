"""A tiny GigaAM-v3-CTC-shaped ONNX model, built here, so onnx-asr's real code runs without weights.

onnx-asr loads a `gigaam-v3-ctc` folder as: config.json, v3_ctc.onnx (input `features`
[batch, 64, frames] log-mel from its own GigaAM v3 preprocessor and `feature_lengths` [batch];
output `log_probs` [batch, frames/4, vocabulary]) and v3_vocab.txt ("token id" per line, `<blk>`
the CTC blank). This model keeps every fourth frame (GigaAM's subsampling) and, per frame, makes
the loudest mel bin of the low half the logit of "привет", of the high half the logit of "мир",
against a blank at 0: a low tone (300 Hz) spells "привет", a high one (3 kHz) "мир", silence nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

WORDS = {"low": "привет", "high": "мир"}


def build_gigaam_ctc(folder: Path) -> Path:
    """Write the model folder onnx-asr expects for `gigaam-v3-ctc`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
        )

    nodes = [
        const("starts", [0]), const("ends", [1 << 30]), const("axis2", [2]), const("step4", [4]),
        const("lo_s", [0]), const("lo_e", [32]), const("hi_s", [32]), const("hi_e", [64]), const("axis1", [1]),
        # GigaAM subsamples by 4: frames (T - 1) // 4 + 1, as onnx-asr computes the lengths.
        helper.make_node("Slice", ["features", "starts", "ends", "axis2", "step4"], ["sub"]),
        helper.make_node("Slice", ["sub", "lo_s", "lo_e", "axis1"], ["low"]),
        helper.make_node("Slice", ["sub", "hi_s", "hi_e", "axis1"], ["high"]),
        helper.make_node("ReduceMax", ["low", "axis1"], ["low_max"], keepdims=1),  # [B, 1, T']
        helper.make_node("ReduceMax", ["high", "axis1"], ["high_max"], keepdims=1),
        helper.make_node("Mul", ["low_max", "zero"], ["blank"]),  # a blank logit of 0 per frame
        helper.make_node("Concat", ["low_max", "high_max", "blank"], ["logits_bvt"], axis=1),  # [B, 3, T']
        helper.make_node("Transpose", ["logits_bvt"], ["logits"], perm=[0, 2, 1]),  # [B, T', 3]
        helper.make_node("LogSoftmax", ["logits"], ["log_probs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_gigaam_ctc",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 64, "frames"]),
            helper.make_tensor_value_info("feature_lengths", TensorProto.INT64, ["batch"]),
        ],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["batch", "out_frames", 3])],
        initializer=[helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, folder / "v3_ctc.onnx")
    (folder / "v3_vocab.txt").write_text(
        f"\u2581{WORDS['low']} 0\n\u2581{WORDS['high']} 1\n<blk> 2\n", encoding="utf-8"
    )
    config = {"model_type": "gigaam-v3-ctc", "version": "v3", "features_size": 64, "subsampling_factor": 4}
    (folder / "config.json").write_text(json.dumps(config))
    return folder
