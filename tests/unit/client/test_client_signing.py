"""How the client's requests protect their bodies: what each request carries on the wire.

Over plain http botocore signs every body (a SHA-256 of it in the signature); a loopback server
(the embedded stack, LocalStack) gets the body's checksum alone (a piece's CRC32C), which it
checks as S3 does, and any other http endpoint keeps its signed bodies.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from artifact_backup.aws import client_config
from artifact_backup.upload.sender import SEND_ARGS

UNSIGNED = "UNSIGNED-PAYLOAD"


class _Raw(io.BytesIO):
    def stream(self, *_: Any, **__: Any) -> Any:
        yield self.read()


def _client(endpoint_url: str) -> tuple[Any, list[Any]]:
    """A client for ``endpoint_url`` whose requests are kept and answered 200, never sent."""
    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url=endpoint_url,
        aws_access_key_id="k", aws_secret_access_key="s",
        config=client_config(4, endpoint_url=endpoint_url),
    )
    sent: list[Any] = []

    def keep(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {"ETag": '"e"'}, _Raw(b""))

    client.meta.events.register("before-send.s3", keep)
    return client, sent


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", "http://localhost:9000", "http://[::1]:9000"])
def test_a_loopback_server_gets_the_checksum_not_a_signed_body(endpoint):
    client, sent = _client(endpoint)
    client.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=io.BytesIO(b"x" * 1000),
                       **SEND_ARGS)
    client.put_object(Bucket="b", Key="manifest.json", Body=b"{}", ChecksumAlgorithm="SHA256")
    for request in sent:
        assert request.headers["X-Amz-Content-SHA256"] == UNSIGNED.encode()
    # The server checks the checksum of the body: a body changed on the way is refused.
    assert sent[0].headers["x-amz-checksum-crc32c"] == b"YXFUyQ=="  # 1000 b"x"
    assert sent[1].headers["x-amz-checksum-sha256"] == base64.b64encode(hashlib.sha256(b"{}").digest())


def test_a_remote_http_endpoint_keeps_signed_bodies():
    client, sent = _client("http://s3.example.internal:9000")
    client.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=io.BytesIO(b"x" * 1000),
                       **SEND_ARGS)
    assert sent[0].headers["X-Amz-Content-SHA256"] == hashlib.sha256(b"x" * 1000).hexdigest().encode()
    assert sent[0].headers["x-amz-checksum-crc32c"] == b"YXFUyQ=="
