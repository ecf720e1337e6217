"""Graceful stop: SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 set a flag; the loop checkpoints at the next
step boundary and exits with sngan.errors.EXIT_INTERRUPTED (75). Rerunning the command resumes there.

Schedulers send SIGTERM (or SIGUSR1/SIGUSR2 as a pre-emption warning) before killing a job; Ctrl-C
sends SIGINT. A second SIGINT or SIGTERM while the first is pending stops at once, the old way.

A Python handler installed before ours (submitit's, under hydra-submitit-launcher: USR2 checkpoints
the job and requeues it) is not swallowed: once the loop's checkpoint is written, chain_previous()
hands it the caught signal, so it requeues a job that resumes from that checkpoint.
"""
from __future__ import annotations

import signal
import threading

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2")
                     if hasattr(signal, name))


class StopRequest:
    """While installed, the stop signals set `.signal` (the first one's name) instead of killing us."""

    def __init__(self):
        self.signal: str | None = None
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum, frame):
        if self.signal is not None and signum in (signal.SIGINT, signal.SIGTERM):
            self.uninstall()  # asked twice: give up on the graceful stop
            signal.raise_signal(signum)
            return
        self.signal = signal.Signals(signum).name

    def install(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
            for s in STOP_SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def chain_previous(self) -> None:
        """Give the caught signal to the Python handler it would have reached without us (call it
        after the checkpoint is written). It may exit, as submitit's does after a requeue."""
        if self.signal is None:
            return
        signum = signal.Signals[self.signal]
        handler = self._previous.get(signum)
        self.uninstall()  # its handlers are back in place while it runs
        if callable(handler) and handler is not signal.default_int_handler:  # that one would raise KeyboardInterrupt
            handler(signum, None)

    def uninstall(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}
