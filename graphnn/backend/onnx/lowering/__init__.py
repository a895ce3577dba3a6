"""ONNX lowerings, one module per op family (loaded by graphnn.backend.onnx)."""
