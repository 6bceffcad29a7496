"""A pass of background work every few seconds, in a daemon thread: the loop
shared by the workers `egide serve` runs (audit, mail).

A pass that fails is logged (its error code and message: ids and sizes,
never personal data; an integrity failure at error level) and retried at
the next tick; nothing ends the loop but `stop`.
"""

from __future__ import annotations

import logging
import threading

from egide.core.errors import EgideError, ErrorKind


class PeriodicWorker:
    """Runs `run_once()` every `interval` seconds until stopped; subclasses say
    what a pass does, and under which thread name and logger."""

    #: The thread's name, seen in `py-spy dump` and thread listings.
    thread_name = "egide-worker"

    def __init__(self, *, interval: float, log: logging.Logger) -> None:
        self.interval = interval
        self.log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:  # pragma: no cover - every worker defines its pass
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the pass in progress (bounded by `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except EgideError as exc:
                level = logging.ERROR if exc.kind is ErrorKind.INTEGRITY else logging.WARNING
                fields = {"code": exc.code, "detail": exc.render()}
                self.log.log(level, "pass failed", extra={"egide": fields})
            except Exception:  # a bug must not end the loop, nor the server
                self.log.exception("pass failed unexpectedly")
            self._stop.wait(self.interval)
