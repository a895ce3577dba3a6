"""``graphnn layers``: what graphnn can convert, straight from its rule registries."""
import click

from graphnn.frontend.rules import supported_functions, supported_layers, supported_methods


@click.command()
def layers():
    """List the torch.nn layers, functions and Tensor methods graphnn converts."""
    sections = [
        ("torch.nn layers", supported_layers()),
        ("functions", supported_functions()),
        ("Tensor methods", [f".{name}()" for name in supported_methods()]),
    ]
    for title, names in sections:
        click.echo(f"{title} ({len(names)}):")
        for name in names:
            click.echo(f"  {name}")
