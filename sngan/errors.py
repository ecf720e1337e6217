"""Errors a user can fix. The CLI prints them as one line and exits with their code."""


class UserError(Exception):
    """A problem with the user's input or environment; the message names the fix."""

    exit_code = 2


class ConfigError(UserError):
    """A config value is out of range or inconsistent."""


class DataError(UserError):
    """A dataset is missing or unreadable."""


class OutputError(UserError):
    """The run folder cannot be written."""
