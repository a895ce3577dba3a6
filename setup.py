"""Package layout only (the rest is in pyproject.toml): the repository's cli/ folder is
installed as ``graphnn.cli`` so graphnn's wheel has a single top-level package, graphnn."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["graphnn", "graphnn.*"]) + ["graphnn.cli"],
    package_dir={"graphnn.cli": "cli"},
)
