"""graphnn's version, in a module of its own: the assembler writes it into every file, and
importing the ``graphnn`` package from inside graphnn would close an import cycle."""
__version__ = "0.1.0"
