"""How commands talk: results on stdout, progress and notes on stderr."""
import click

from graphnn import progress as _progress


def progress(message: str) -> None:
    _progress.note(message)  # above the live progress line; silent under --quiet


def print_report(report) -> None:
    if report.note:
        progress(report.note)
    for line in report.lines():
        click.echo(line)
    click.echo(report.summary())


def describe_inputs(example_inputs) -> str:
    """``1x3x28x28:float32, input_ids=2x16:int64``: the inputs as --input would spell them."""
    items = example_inputs.items() if isinstance(example_inputs, dict) else ((None, t) for t in example_inputs)
    return ", ".join((f"{name}=" if name else "") + "x".join(map(str, t.shape))
                     + f":{str(t.dtype).removeprefix('torch.')}" for name, t in items)
