"""A lighter request path for the filer's busiest request: one PutObject per packed file.

botocore spends about 4.6 ms of CPU on each of those puts (endpoint rules, signing, header
objects, an event system built for every AWS service); the AWS Common Runtime's S3 client
(``awscrt``, the native library behind s3transfer's CRT mode) signs, sends and retries in C, at
about 1.1 ms a put, measured against the embedded server with the filer's own headers. A run of
many small files is mostly such puts, so this decides the filer's CPU per file and how many files
one Lambda invocation can file. Everything else (reads, copies, HEADs, deletes) stays on botocore.

Answers come back in botocore's shape: a failure is a ``botocore.exceptions.ClientError`` with the
S3 error code and HTTP status, so the filer tells a 412 from a 404 with the same vocabulary
(``artifact_contract.s3``) whichever path sent the request.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any
from urllib.parse import quote, urlparse
from xml.etree import ElementTree

from botocore.exceptions import ClientError

from .exceptions import FilerTransientError

#: Bucket names that can be a host name label (no dots, so TLS wildcard certificates match).
_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_AWS_HOST = re.compile(r"(^|\.)amazonaws\.com(\.cn)?$")

#: Credentials as (access key, secret key, session token or None), asked for before each signing,
#: so credentials that rotate (a Lambda role's) are always current.
CredentialSource = Callable[[], tuple[str, str, str | None]]


class ArchiveWriteError(FilerTransientError):
    """A put failed without an answer from S3 (connection lost after every retry)."""


def available() -> bool:
    """Whether the native client is installed (the filer's image carries it; a bare checkout may not)."""
    try:
        import awscrt.s3  # noqa: F401
    except ImportError:
        return False
    return True


class CrtPutter:
    """Puts small objects through one native S3 client; thread-safe, futures for answers.

    :param endpoint_url: the S3 endpoint (``https://s3.eu-west-1.amazonaws.com``, or the embedded
        server's ``http://127.0.0.1:PORT``).
    :param max_connections: connections kept open at most; the filer's concurrency.
    :param max_attempts: attempts per request, as botocore's ``max_attempts`` counts them.
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        credentials: CredentialSource,
        max_connections: int,
        max_attempts: int,
        connect_timeout_ms: int = 10_000,
    ) -> None:
        from awscrt.auth import AwsCredentials, AwsCredentialsProvider
        from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
        from awscrt.s3 import S3Client, S3RequestTlsMode, S3RetryConfig

        parsed = urlparse(endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"endpoint {endpoint_url!r} is not an http(s) URL")
        self._host = parsed.hostname
        self._port = parsed.port
        self._aws = bool(_AWS_HOST.search(self._host))

        def current() -> Any:
            access_key, secret_key, token = credentials()
            return AwsCredentials(access_key, secret_key, token)

        loops = EventLoopGroup(1)
        self._client = S3Client(
            bootstrap=ClientBootstrap(loops, DefaultHostResolver(loops)),
            region=region,
            credential_provider=AwsCredentialsProvider.new_delegate(current),
            tls_mode=S3RequestTlsMode.ENABLED if parsed.scheme == "https" else S3RequestTlsMode.DISABLED,
            retry_config=S3RetryConfig(max_retries=max(1, max_attempts - 1)),
            max_active_connections_override=max_connections,
            connect_timeout_ms=connect_timeout_ms,
        )
        # The native request must outlive its answer: kept until its future is done.
        self._in_flight: set[Any] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_client(
        cls, client: Any, credentials: Any, *, max_connections: int, max_attempts: int
    ) -> CrtPutter:
        """A putter for the same endpoint, region and credentials as a boto3 S3 ``client``;
        ``credentials`` is botocore's (``session.get_credentials()``), refreshed as botocore does."""

        def frozen() -> tuple[str, str, str | None]:
            now = credentials.get_frozen_credentials()
            return now.access_key, now.secret_key, now.token

        return cls(endpoint_url=client.meta.endpoint_url, region=client.meta.region_name, credentials=frozen,
                   max_connections=max_connections, max_attempts=max_attempts)

    def _target(self, bucket: str, key: str) -> tuple[str, str]:
        """(Host header, path) in S3's addressing: virtual-hosted on AWS, path-style elsewhere."""
        port = f":{self._port}" if self._port else ""
        encoded = quote(key, safe="/~")
        if self._aws and _DNS_BUCKET.fullmatch(bucket):
            return f"{bucket}.{self._host}{port}", f"/{encoded}"
        return f"{self._host}{port}", f"/{bucket}/{encoded}"

    def put_object(
        self,
        *,
        Bucket: str,  # noqa: N803 - botocore's parameter names, so callers swap one for the other
        Key: str,  # noqa: N803
        Body: bytes,  # noqa: N803
        ContentType: str,  # noqa: N803
        Metadata: Mapping[str, str],  # noqa: N803
        Tagging: str,  # noqa: N803
        IfNoneMatch: str | None = None,  # noqa: N803
        ChecksumCRC64NVME: str | None = None,  # noqa: N803
        ChecksumSHA256: str | None = None,  # noqa: N803
    ) -> Future[dict[str, Any]]:
        """Send the put with exactly one checksum (base64, as botocore takes it); the future holds
        ``{"ETag": ..., "VersionId": ...}`` (the version a versioned bucket wrote, else None) or the
        ``ClientError`` S3 answered."""
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType

        host, path = self._target(Bucket, Key)
        headers = [
            ("Host", host),
            ("Content-Length", str(len(Body))),
            ("Content-Type", ContentType),
            *_checksum_headers(ChecksumCRC64NVME, ChecksumSHA256),
            ("x-amz-tagging", Tagging),
            *((f"x-amz-meta-{name}", value) for name, value in Metadata.items()),
        ]
        if IfNoneMatch is not None:
            headers.append(("If-None-Match", IfNoneMatch))
        answer: Future[dict[str, Any]] = Future()
        etag: list[str] = []
        version: list[str] = []
        native: list[Any] = []  # the request, once made: it may answer before make_request returns
        finished: list[bool] = []

        def on_headers(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            etag.extend(v for k, v in headers if k.lower() == "etag")
            version.extend(v for k, v in headers if k.lower() == "x-amz-version-id")

        def on_done(error: BaseException | None = None, status_code: int | None = None,
                    error_body: bytes | None = None, **_: Any) -> None:
            with self._lock:
                finished.append(True)
                for made in native:
                    self._in_flight.discard(made)
                # The native request holds these callbacks and they held it: a cycle through a
                # native object, which the garbage collector never frees. Without this, every
                # put kept its request and its body (about 20 KB a file) until the process ended.
                native.clear()
            if error is None:
                answer.set_result({"ETag": etag[0] if etag else None,
                                   "VersionId": version[0] if version else None})
            elif status_code is not None:
                answer.set_exception(_client_error(status_code, error_body, str(error)))
            else:
                answer.set_exception(ArchiveWriteError(f"put of s3://{Bucket}/{Key} failed: {error}"))

        request = self._client.make_request(
            type=S3RequestType.DEFAULT,
            operation_name="PutObject",
            request=HttpRequest("PUT", path, HttpHeaders(headers), io.BytesIO(Body)),
            on_headers=on_headers,
            on_done=on_done,
        )
        with self._lock:
            if not finished:  # else it was answered before make_request returned: nothing to keep
                native.append(request)
                self._in_flight.add(request)
        return answer


def _checksum_headers(crc64nvme: str | None, sha256: str | None) -> list[tuple[str, str]]:
    """As botocore sends a precomputed checksum: S3 checks the body against it and keeps it. The
    algorithm header too, without which moto keeps no checksum at all."""
    if (crc64nvme is None) == (sha256 is None):
        raise ValueError("a put carries exactly one checksum: CRC64NVME or SHA-256")
    if crc64nvme is not None:
        return [("x-amz-sdk-checksum-algorithm", "CRC64NVME"), ("x-amz-checksum-crc64nvme", crc64nvme)]
    assert sha256 is not None
    return [("x-amz-sdk-checksum-algorithm", "SHA256"), ("x-amz-checksum-sha256", sha256)]


def _client_error(status: int, body: bytes | None, fallback: str) -> ClientError:
    """S3's error answer as botocore would raise it: code and message from the XML body."""
    code, message = str(status), fallback
    if body:
        try:
            root = ElementTree.fromstring(body)  # noqa: S314 - S3's own answer, a few hundred bytes
            code = root.findtext("Code") or code
            message = root.findtext("Message") or message
        except ElementTree.ParseError:
            pass
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")
