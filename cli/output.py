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


def describe_inputs(inputs) -> str:
    """``1x3x28x28:float32, input_ids=2x16:int64``: a ``ModelInputs`` as --input would spell it."""
    return ", ".join((f"{item.name}=" if item.keyword else "") + "x".join(map(str, item.example.shape))
                     + f":{str(item.example.dtype).removeprefix('torch.')}" for item in inputs.items)
