"""The graphnn command line: click commands that parse, call graphnn, and print."""
