"""Errors raised when a value breaks the client/filer contract.

Every error subclasses :class:`ValueError` so callers that validate user input can catch one family,
and each message names the offending value and how to fix it.
"""


class ContractError(ValueError):
    """A value does not satisfy the contract shared by client and filer."""


class ProjectKeyInvalidError(ContractError):
    """A project key would break the archive layout."""


class TimestampInvalidError(ContractError):
    """A run timestamp is not a real ``YYYYMMDD_HHMM`` date and time."""


class ArtifactTypeUnknownError(ContractError):
    """An artifact type is not one of the user guide's types."""


class PathInvalidError(ContractError):
    """A relative path could escape its prefix or is not portable."""


class RunIdInvalidError(ContractError):
    """A run id is not 32 lowercase hexadecimal characters."""


class ManifestInvalidError(ContractError):
    """A manifest is not a well-formed, self-consistent run description."""


class PathReservedError(ManifestInvalidError):
    """An untimestamped file's key would lie in a timestamped run's folder or the archive's records."""


class ReceiptInvalidError(ContractError):
    """A receipt cannot be read as the filer's answer."""
