"""boto3 clients and the translation of AWS failures into the guide's messages.

boto3 costs about 0.4 s to import, so it is imported here, inside functions, and only when a
command actually talks to S3: ``--help`` and ``--dry-run`` stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from artifact_contract.s3 import is_aws_error

from .exceptions import (
    AccessDeniedError,
    ArtifactBackupError,
    BucketNotFoundError,
    CredentialsExpiredError,
    CredentialsMissingError,
    EndpointUnreachableError,
    UploadFailedError,
)

if TYPE_CHECKING:
    from .config import Settings

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - a host name, not a bind
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
#: S3 computed another checksum of the body than the request declared: bytes changed in transit.
_CORRUPTED = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}
_WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
_DENIED = {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "InvalidToken", "AccountProblem", "403", "Forbidden"}


def _is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and (urlparse(endpoint_url).hostname or "") in _LOOPBACK


def client_config(max_concurrency: int = 10, *, endpoint_url: str | None = None) -> Any:
    """botocore settings: standard retries (throttling, 5xx, connection resets) and a pool that fits
    the transfer's concurrency, so parallel parts never wait for a connection."""
    from botocore.config import Config

    s3: dict[str, Any] = {}
    if _is_loopback(endpoint_url):
        s3["addressing_style"] = "path"
        # botocore signs every body over plain http (a SHA-256 pass over every part, besides its
        # checksum and the send). A loopback server has no wire to tamper with; the checksum, which
        # the server checks, still refuses a body changed on the way, as over https to AWS.
        s3["payload_signing_enabled"] = False
    return Config(
        retries={"mode": "standard", "max_attempts": 6},
        max_pool_connections=max(10, max_concurrency + 4),
        connect_timeout=10,
        read_timeout=60,
        tcp_keepalive=True,
        s3=s3 or None,
        user_agent_extra="artifact-backup",
    )


def make_s3_client(settings: Settings) -> Any:
    """An S3 client for the settings' profile, region and endpoint."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
        credentials: dict[str, str] = {}
        if _is_loopback(settings.endpoint_url) and session.get_credentials() is None:
            # The embedded server (`artifact-backup local`) takes any key: a newcomer trying it
            # needs no AWS credentials at all.
            from .local.server import LOCAL_CREDENTIALS

            credentials = {
                "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            }
        return session.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            config=client_config(settings.transfer.max_concurrency, endpoint_url=settings.endpoint_url),
            **credentials,
        )
    except BotoCoreError as exc:
        raise translate_error(exc) from None


def _bucket_hint(bucket: str | None) -> str | None:
    return f"bucket: {bucket}" if bucket else None


def translate_error(
    exc: BaseException, *, bucket: str | None = None, action: str = ""
) -> ArtifactBackupError:
    """Map a botocore/boto3 failure to an :class:`UploadFailedError` naming the specific cause.

    Anything already an :class:`ArtifactBackupError` passes through unchanged.
    """
    if isinstance(exc, ArtifactBackupError):
        return exc
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return UploadFailedError(str(exc))
    doing = f" ({action})" if action else ""
    where = f"s3://{bucket}" if bucket else "the bucket"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return CredentialsMissingError(
            f"no AWS credentials found{doing}",
            hint="configure credentials (aws configure, AWS_PROFILE / --profile, or an IAM role)",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return CredentialsMissingError(
            f"AWS profile not found: {exc.kwargs.get('profile')}",
            hint="check --profile, AWS_PROFILE or aws.profile against ~/.aws/config",
        )
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError):
        return CredentialsExpiredError(
            f"AWS credentials have expired{doing}: {exc}", hint="log in again (e.g. aws sso login)"
        )
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code", ""))
        message = error.get("Message") or code
        if code in _EXPIRED:
            return CredentialsExpiredError(
                f"AWS credentials have expired{doing}", hint="refresh the session token or log in again"
            )
        if code in ("NoSuchBucket",):
            return BucketNotFoundError(
                f"{where} does not exist{doing}",
                hint="check aws.s3_bucket_staging (default: {s3_bucket_raw}-staging) and the region",
            )
        if code in _DENIED:
            return AccessDeniedError(f"access denied to {where}{doing}: {message}", hint=_bucket_hint(bucket))
        if code in _CORRUPTED:
            return UploadFailedError(
                f"S3 refused what it received{doing}: the bytes differ from their checksum, so they "
                f"were changed on the way ({code}: {message}); nothing of it was stored",
                hint="run the upload again (it resumes); if it keeps failing, check the network path "
                     "(a proxy or faulty hardware between this machine and S3)",
            )
        if code in _WRONG_REGION:
            return UploadFailedError(
                f"{where} is in another region{doing}: {message}", hint="set aws.region or --region"
            )
        return UploadFailedError(
            f"S3 answered {code or 'an error'}{doing}: {message}", hint=_bucket_hint(bucket)
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError):
        return EndpointUnreachableError(
            f"cannot reach S3{doing}: {exc}", hint="check the network, a proxy, or --endpoint-url"
        )
    if isinstance(exc, bx.ReadTimeoutError | bx.HTTPClientError):
        return EndpointUnreachableError(f"the connection to S3 failed{doing}: {exc}")
    if isinstance(exc, bx.BotoCoreError):
        return UploadFailedError(f"{exc}{doing}")
    return UploadFailedError(f"{type(exc).__name__}: {exc}{doing}")


@contextmanager
def s3_failures(bucket: str | None = None, action: str = "") -> Iterator[None]:
    """Within the block, a failure of the AWS SDK or its HTTP layer becomes the guide's message
    (:func:`translate_error`); our own errors and anything else pass unchanged."""
    try:
        yield
    except ArtifactBackupError:
        raise
    except Exception as exc:
        if is_aws_error(exc):
            raise translate_error(exc, bucket=bucket, action=action) from None
        raise
