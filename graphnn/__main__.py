"""``python -m graphnn ...`` runs the ``graphnn`` command, for environments without its script on PATH."""
from graphnn.cli.main import main

if __name__ == "__main__":
    main(prog_name="graphnn")
