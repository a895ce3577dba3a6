"""``graphnn graph``: the layers of a model as a table, or Graphviz DOT."""
import click

import graphnn
from . import options
from .output import progress
from graphnn.loader import load
from graphnn.summary import layer_table, to_dot


@click.command()
@options.model_source
@click.option("--dot", is_flag=True, help="Print Graphviz DOT instead of the table (pipe into `dot -Tsvg`).")
@click.option("--optimize", is_flag=True,
              help="Show the graph after the optimizing passes (what export lowers), not as written.")
def graph(model_py, model_name, inputs, dynamic, frontend, static, dot, optimize):
    """Show the layers of the model in MODEL_PY: name, type, output shape, params, source line.

    \b
    Examples:
      graphnn graph fixtures/simple_cnn.py
      graphnn graph fixtures/simple_cnn.py --dot | dot -Tsvg > simple_cnn.svg
    """
    loaded, example_inputs = load(model_py, model_name, inputs, dynamic)
    ir = graphnn.trace(loaded.model, example_inputs, dynamic_batch=not static,
                       dynamic_dims=None if static else loaded.dynamic_dims, frontend=frontend, log=progress)
    if optimize:
        ir = graphnn.optimize(ir)
    click.echo(to_dot(ir) if dot else layer_table(ir, loaded.model), nl=not dot)
