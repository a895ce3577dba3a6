"""ONNX models as files: reading one from anywhere with the hostile-file checks (``read``),
writing atomically (``atomic``) with the weights streamed from the torch tensors and external
data past 2 GB (``serialize``), the checker (``checker``, ``schemas``), the ONNX element-type
table (``types``), the probe model that asks onnxruntime what it loads (``probe``), and
onnxruntime's missing kernels said by layer (``kernels``). Nothing is imported here: each
module is imported by name, so no importer pulls in the others."""
