"""Logging: one ``icalendly_async`` logger hierarchy, never a secret.

* ``icalendly_async.http`` at DEBUG: one line per attempt (method, path template, status or
  error, attempt number, limiter wait, duration, request id), with the same values as record
  attributes for structured handlers (``record.icalendly``).
* ``icalendly_async`` at INFO: retries, token refreshes, holds after a 429 or ``Remaining: 0``.

``ICALENDLY_LOG=debug`` (or ``info``) turns it on without code: :func:`configure_from_env`
(called when a client is created) sets the level and, if the logger has no handler yet, adds one
writing to standard error.
"""

from __future__ import annotations

import logging
import os
import sys

from .._hooks import AttemptInfo, CallInfo, Observer

__all__ = ["LoggingObserver", "configure_from_env"]

ROOT = "icalendly_async"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_configured = False


def configure_from_env() -> None:
    """Apply ``ICALENDLY_LOG`` (``debug``, ``info`` or ``warning``) once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    level = _LEVELS.get(os.environ.get("ICALENDLY_LOG", "").strip().lower())
    if level is None:
        return
    logger = logging.getLogger(ROOT)
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


class LoggingObserver(Observer):
    """Writes the events above to the standard :mod:`logging` module."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(ROOT)
        self._http = self._log.getChild("http")

    def active(self) -> bool:
        # Everything this observer writes is at INFO or below (DEBUG per attempt, INFO for
        # retries, refreshes and holds): with INFO off, a call builds no event objects for it.
        return self._log.isEnabledFor(logging.INFO)

    def on_attempt_end(self, call: CallInfo, attempt: AttemptInfo) -> None:
        if not self._http.isEnabledFor(logging.DEBUG):
            return
        outcome = str(attempt.status) if attempt.status is not None else attempt.error
        fields = {
            "method": call.method,
            "path": call.path,
            "operation": call.name,
            "status": attempt.status,
            "error": attempt.error,
            "attempt": attempt.number,
            "limiter_wait_ms": round(attempt.limiter_wait * 1000, 1),
            "duration_ms": round(attempt.duration * 1000, 1),
            "request_id": attempt.request_id,
            "credential": call.credential,
        }
        self._http.debug(
            "%s %s -> %s attempt=%d wait_ms=%.1f duration_ms=%.1f request_id=%s",
            call.method,
            call.path,
            outcome,
            attempt.number,
            fields["limiter_wait_ms"],
            fields["duration_ms"],
            attempt.request_id or "-",
            extra={"icalendly": fields},
        )

    def on_retry(self, call: CallInfo, attempt: int, delay: float, reason: str) -> None:
        self._log.info(
            "retrying %s after attempt %d (%s) in %.2f s",
            call.name,
            attempt,
            reason,
            delay,
            extra={"icalendly": {"operation": call.name, "attempt": attempt, "delay": delay}},
        )

    def on_refresh(self, call: CallInfo, ok: bool) -> None:
        if ok:
            self._log.info("access token refreshed for %s", call.credential)
        else:
            self._log.info("access token refresh failed for %s", call.credential)

    def on_hold(self, call: CallInfo, seconds: float, reason: str) -> None:
        self._log.info(
            "credential %s held for %.1f s (%s)",
            call.credential,
            seconds,
            reason,
            extra={"icalendly": {"credential": call.credential, "hold_seconds": seconds}},
        )
