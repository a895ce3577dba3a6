"""What ``graphnn graph`` shows, for a traced model or an ONNX file alike.

``model.View`` is the one picture both sources become (``from_ir``, ``from_onnx``); the
table (``table``), Graphviz DOT (``dot``), pictures (``render``) and JSON (``jsonview``) read
only the View, so a model and its exported file are shown the same way.
"""
from graphnn.view.from_ir import view_of_graph
from graphnn.view.from_onnx import view_of_onnx
from graphnn.view.model import View

__all__ = ["View", "view_of_graph", "view_of_onnx"]
