"""How commands talk: results on stdout, progress and notes on stderr."""
import click


def progress(message: str) -> None:
    click.echo(message, err=True)


def print_report(report) -> None:
    if report.note:
        progress(report.note)
    for line in report.lines():
        click.echo(line)
    click.echo(report.summary())
