"""Project exceptions: each carries one line a user can act on; the CLI renders them."""


class MlpxError(Exception):
    """Base class of every error mlpx reports to the user without a traceback."""

    exit_code = 2


class UsageError(MlpxError):
    """Command-line options that do not go together (e.g. --resume with a config file)."""


class ConfigError(MlpxError):
    """A config file or an override is wrong: names the key path, the value and what is allowed."""


class DataError(MlpxError):
    """A dataset cannot be loaded or is malformed."""


class RunDirError(MlpxError):
    """A run directory cannot be created, read or would be overwritten."""


class BackendError(MlpxError):
    """A backend cannot run the requested config (device missing, unsupported option)."""


class MlpxWarning(UserWarning):
    """Something a user should know that does not stop the command; the CLI shows one yellow
    line per warning."""


class ConfigWarning(MlpxWarning):
    """A config loads, but a setting in it does not mean what it seems to (e.g. one that an
    older mlpx ignored and that is still ignored, so that its runs resume as they trained)."""


class DataWarning(MlpxWarning):
    """A dataset loads, but not quite as expected (e.g. files that fail their checksums)."""


class GroupError(MlpxError):
    """A sweep or a cross-validation cannot be planned, resumed or handed to its executor."""


class SettingError(ValueError):
    """A registry entry refuses a setting (``key`` of its config section, ``value``): raised
    while a config is validated, and reported as a ConfigError naming the full key path."""

    def __init__(self, key: str, value: object, message: str):
        super().__init__(message)
        self.key, self.value, self.message = key, value, message


def shown(value: object) -> str:
    """A setting's value as a message shows it: null, true and false as YAML writes them
    (what the user typed, ``yes`` included, was read as one of those), anything else as
    Python's repr (strings quoted)."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return repr(value)
