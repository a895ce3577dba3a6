"""Backends lower the IR to a deployable format. Today: ONNX (``backend.onnx``)."""
