"""Observers the client reports to: logs, metrics, traces. The pipeline never imports these.

Install them with ``ICalendly(observers=[...])``; the default is ``[LoggingObserver()]``, silent
until the ``icalendly_async`` logger is enabled (or ``ICALENDLY_LOG=debug|info`` is set).
"""

from .._hooks import AttemptInfo, CallInfo, Observer
from .logs import LoggingObserver, configure_from_env
from .metrics import MetricsObserver

__all__ = [
    "AttemptInfo",
    "CallInfo",
    "LoggingObserver",
    "MetricsObserver",
    "Observer",
    "configure_from_env",
]
