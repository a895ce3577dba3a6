"""Does the ONNX file compute what PyTorch computes? onnxruntime sessions (``runtime``),
default tolerances (``tolerances``), the comparison and its report (``parity``), and on a
mismatch the first layer that diverges (``localize``). Nothing is imported here."""
