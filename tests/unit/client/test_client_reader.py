"""What s3transfer reads a piece through (``upload/reader.py``): the file's bytes exactly, a shrunk
file refused, and one buffer reused, whichever way botocore frames the body on the wire."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import boto3
import pytest
from awscrt import checksums
from botocore.awsrequest import AWSResponse

from artifact_backup.aws import client_config
from artifact_backup.exceptions import FileChangedError
from artifact_backup.transfer import MB, UploadConfig
from artifact_backup.upload.reader import REUSED_READ_MAX, StrictReader, strict_osutil
from artifact_backup.upload.sender import SEND_ARGS, transfer_manager


def _reader(path) -> StrictReader:
    return strict_osutil().open(str(path), "rb")


def test_reads_return_the_files_bytes_from_one_buffer(tmp_path):
    data = os.urandom(300_000)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    with _reader(path) as reader:
        first = reader.read(100_000)
        assert bytes(first) == data[:100_000]
        second = reader.read(100_000)
        assert bytes(second) == data[100_000:200_000]
        # The same memory serves every read of this size: no fresh pages per chunk.
        assert first.obj is second.obj
        reader.seek(0)
        assert bytes(reader.read(300_000)) == data


def test_a_read_larger_than_the_reused_buffer_gets_its_own(tmp_path):
    data = os.urandom(REUSED_READ_MAX + 10)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    with _reader(path) as reader:
        assert reader.read(REUSED_READ_MAX + 10) == data
        assert reader.read() == b""


def test_a_file_shorter_than_asked_is_refused(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"x" * 1000)
    with _reader(path) as reader, pytest.raises(FileChangedError, match="shorter than when it was listed"):
        reader.read(2000)


def test_the_end_of_the_file_reads_as_empty(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    with _reader(path) as reader:
        assert reader.read(3) == b"abc"
        assert reader.read(0) == b""


class _Raw(io.BytesIO):
    def stream(self, *_: Any, **__: Any) -> Any:
        yield self.read()


def _dechunk(wire: bytes) -> tuple[bytes, bytes]:
    """The payload and trailer of an aws-chunked body."""
    payload, rest = bytearray(), wire
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return bytes(payload), rest
        payload += rest[:size]
        rest = rest[size + 2:]


@pytest.mark.parametrize("endpoint", ["https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"])
def test_every_part_goes_on_the_wire_as_the_file_holds_it(tmp_path, endpoint):
    """Over https botocore frames the parts aws-chunked with a trailing CRC32C (reading our chunks as
    it sends); over loopback http it reads each part once for the CRC32C header, then again to send."""
    data = os.urandom(12 * MB + 12345)
    path = tmp_path / "survey.gpkg"
    path.write_bytes(data)
    client = boto3.session.Session().client(
        "s3", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="k",
        aws_secret_access_key="s", config=client_config(4, endpoint_url=endpoint),
    )
    parts: dict[int, bytes] = {}
    framed: list[bool] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        body = request.body
        body = body.read() if hasattr(body, "read") else bytes(body or b"")
        query = request.url.rsplit("?", 1)[-1]
        headers = {"ETag": '"e"'}
        if "partNumber=" in query:
            number = int(query.split("partNumber=")[1].split("&")[0])
            framed.append(request.headers.get("Content-Encoding") == b"aws-chunked")
            if framed[-1]:
                body, trailer = _dechunk(body)
                assert trailer.startswith(b"x-amz-checksum-crc32c:")
                crc = trailer.split(b":", 1)[1].strip()
            else:
                crc = request.headers["x-amz-checksum-crc32c"]
            assert base64.b64decode(crc) == checksums.crc32c(body).to_bytes(4, "big")
            parts[number] = body
        elif "uploads" in query:
            return AWSResponse(request.url, 200, {}, _Raw(
                b"<InitiateMultipartUploadResult><UploadId>u</UploadId></InitiateMultipartUploadResult>"))
        return AWSResponse(request.url, 200, headers, _Raw(b"<CompleteMultipartUploadResult/>"))

    client.meta.events.register("before-send.s3", answer)
    config = UploadConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=2)
    with transfer_manager(client, config) as manager:
        manager.upload(str(path), "staging", "k", extra_args=dict(SEND_ARGS)).result()
    assert sorted(parts) == [1, 2]
    assert parts[1] + parts[2] == data
    assert framed == [endpoint.startswith("https")] * 2
