"""Export: diffusers SD components and CXR classifiers → validated ONNX (FP32/FP16/INT8) → TensorRT.

`export`, `validate` and `build` are separate steps; one function (`artifacts.artifact_path`)
names every file they write.
"""
