"""Entry point: ``graphnn`` and its subcommands.

A GraphnnError (anything the user can fix) prints one line to stderr and exits 2;
parity failures exit 1; success 0.
"""
import sys

import click

from graphnn import __version__, progress
from graphnn.errors import GraphnnError

EXIT_PARITY = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class GraphnnGroup(click.Group):
    """Turns GraphnnError into ``error: <message>`` and exit code 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GraphnnError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:  # Ctrl-C: the shell's 128 + SIGINT; files are written whole or not at all
            click.echo("error: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=GraphnnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="graphnn")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress line and no notes on stderr: results and errors only.")
def main(quiet):
    """graphnn: see the layers of a PyTorch model, and ship it as ONNX.

    \b
    graphnn graph model.py              layer table (add --dot for Graphviz)
    graphnn export model.py out.onnx    trace -> optimize -> ONNX, with a parity check
    graphnn check model.py              parity of ONNX vs PyTorch only
    graphnn run out.onnx                run an ONNX file on random inputs, with latency
    graphnn layers                      what graphnn can convert
    graphnn env                         versions and devices, for bug reports

    MODEL_PY is a Python file defining the model (`model = ...`, or the only nn.Module)
    and its example inputs (`example_inputs`/`dummy_input`), or pass --input 1x3x28x28.
    Exit codes: 0 ok, 1 parity mismatch, 2 user error.
    Progress shows on stderr when it is a terminal (not with --quiet or in CI).
    Shell completion: eval "$(_GRAPHNN_COMPLETE=bash_source graphnn)" (zsh_source, fish_source).
    """
    progress.set_quiet(quiet)


def _register_commands() -> None:
    from .check import check
    from .env import env
    from .export import export
    from .graph import graph
    from .layers import layers
    from .run import run

    for command in (export, graph, check, run, layers, env):
        main.add_command(command)


_register_commands()

if __name__ == "__main__":
    main()
