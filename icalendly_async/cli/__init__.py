"""The ``icalendly`` command line (extra ``cli``): demo, export, mock-server. Only this prints."""

from ._app import main

__all__ = ["main"]
