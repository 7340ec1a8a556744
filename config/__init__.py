"""Liaison's shipped settings and templates, installed with the code as package data and read
with ``importlib.resources``: default.toml (every setting with its default), example.env (the
environment variables), slack-manifest.yml, teams-manifest/ (the Teams app template and icons)
and pages/ (the privacy notice and terms of use the web app serves)."""

from importlib import resources
from importlib.resources.abc import Traversable


def file(name: str) -> Traversable:
    """A shipped file by its path under config/, e.g. ``file("teams-manifest/manifest.json")``."""
    return resources.files(__name__).joinpath(name)
