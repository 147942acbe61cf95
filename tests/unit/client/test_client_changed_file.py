"""A send that fails while its large file is changing reports the change, not the failure's symptom.

With awscrt installed, botocore reads a request body through native code to sign it; a file that
shrank then surfaces as an opaque native error instead of the client's own check. The uploader
names the file that moved, as the guide's troubleshooting says.
"""

from __future__ import annotations

import os
from concurrent.futures import Future

import pytest

from artifact_backup.collect import LocalFile
from artifact_backup.exceptions import FileChangedError
from artifact_backup.upload.manager import _changes_named
from artifact_backup.upload.types import BlobJob


class NativeError(Exception):
    """Stands in for awscrt's AwsCrtError: nothing in it says which file or why."""


def job_for(path) -> BlobJob:
    st = os.stat(path)
    return BlobJob(LocalFile("gis_data", path.name, str(path), st.st_size, st.st_mtime_ns), Future(), None)


def test_a_failure_while_a_blob_moved_names_the_file(tmp_path):
    big = tmp_path / "survey.gpkg"
    big.write_bytes(b"x" * 1000)
    jobs = [job_for(big)]
    big.write_bytes(b"x" * 10)  # shrank while it was being sent
    with pytest.raises(FileChangedError, match="survey.gpkg changed while it was being uploaded"), \
            _changes_named(jobs):
        raise NativeError("AWS_ERROR_UNKNOWN")


def test_a_failure_with_every_blob_unchanged_is_left_as_it_is(tmp_path):
    big = tmp_path / "survey.gpkg"
    big.write_bytes(b"x" * 1000)
    with pytest.raises(NativeError), _changes_named([job_for(big)]):
        raise NativeError("AWS_ERROR_UNKNOWN")
