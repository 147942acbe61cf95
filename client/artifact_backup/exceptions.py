"""Errors of the artifact-backup client library.

Every error carries the message a user should read and the exit code a script can rely on; the CLI
has one boundary that maps them, and the library raises nothing else on purpose.
"""

from __future__ import annotations


class ArtifactBackupError(Exception):
    """Base of every error the client library raises on purpose."""

    exit_code = 1


class LocalStackError(ArtifactBackupError):
    """The embedded S3 server or the local filer worker could not run."""

    exit_code = 3
