"""One exception family, so clients can show `str(err)` to a person and nothing else."""


class StudioError(Exception):
    """Base of every error the engine raises on purpose; its message is meant for users."""


class DataFormatError(StudioError):
    """A data file (IDX, npz, CSV, image) is malformed; the message names the file."""


class DataNotFoundError(StudioError):
    """No dataset could be found or downloaded; the message lists what was tried."""


class DownloadCancelled(StudioError):
    """The user cancelled a download."""


class SpecError(StudioError):
    """A network, data or training configuration is impossible."""


class ExportError(StudioError):
    """A model could not be written or read."""


class SessionError(StudioError):
    """A session file is missing, corrupt or of an unsupported version."""


class OutputError(StudioError):
    """A file cannot be written where the user asked; the message names it and says why."""
