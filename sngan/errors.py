"""Errors a user can fix. The CLI prints them as one line and exits with their code."""


class UserError(Exception):
    """A problem with the user's input or environment; the message names the fix."""

    exit_code = 2


class ConfigError(UserError):
    """A config value is out of range or inconsistent."""


class DataError(UserError):
    """A dataset is missing or unreadable."""


class DownloadError(DataError):
    """A dataset's download failed; `reason` names the cause (e.g. the URLError behind torchvision's error)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


# Exit codes of `sngan train`, besides 0 (done) and 2 (a UserError above: fix the input and rerun).
EXIT_NONFINITE = 3      # a NaN/inf loss or gradient halted training before the optimizer step
EXIT_IO = 74            # a write failed (disk full, quota, read-only or failing disk): the last checkpoint is intact;
                        # fix the disk and rerun to resume (74 is EX_IOERR of sysexits.h)
EXIT_INTERRUPTED = 75   # SIGTERM/SIGINT/SIGUSR1/SIGUSR2: checkpoint written, rerun the command to resume
                        # (75 is EX_TEMPFAIL of sysexits.h: "try again later", what a requeue wants)


class NonFiniteError(UserError):
    """A loss or gradient became NaN or inf; the last good checkpoint is left intact."""

    exit_code = EXIT_NONFINITE


class DiskError(UserError):
    """A file could not be written (its partial temp file removed); the message names the path and the fix."""

    exit_code = EXIT_IO


class TrainingInterrupted(UserError):
    """A stop signal arrived; training stopped at a step boundary after writing a checkpoint."""

    exit_code = EXIT_INTERRUPTED
