"""The uploader's and the filer's policies, as synthesized, enforced by the local S3 server's IAM.

The server starts with ``INITIAL_NO_AUTH_ACTION_COUNT``: the first few calls (creating an admin) are
free, every later request is signed by a user and checked against that user's policies. The policies
are the template's own documents with the bucket ARNs resolved to the local bucket names.

What moto checks: the action (S3 request -> IAM action, e.g. HEAD -> s3:GetObject, DELETE ->
s3:DeleteObject, PUT ?tagging -> s3:PutObjectTagging) against the resource ARN (bucket, or
bucket/key). What it does not: policy conditions on S3 requests (a statement's condition is treated
as met), the s3:PutObjectTagging check implied by a PutObject/CopyObject carrying tags, and the
s3:GetObject check on a CopyObject's source. Those parts are asserted on the template instead.
The server also rejects the signature of a request whose query string holds a '/', so listings
here use a prefix without one (the IAM check, s3:ListBucket on the bucket, is the same).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from infra_support import Synth, resources

from artifact_backup.local.server import LocalS3Server
from infra.contract import TAG_MANAGED, TAG_MANAGED_VALUE, TAG_RETENTION

#: IAM enforcement is moto's own (INITIAL_NO_AUTH_ACTION_COUNT): LocalStack's community edition does
#: not enforce IAM, so this module starts moto whatever ARTIFACT_BACKUP_S3_BACKEND says.
pytestmark = pytest.mark.moto_api

STAGING = "staging-local"
ARCHIVE = "archive-local"
REGION = "us-east-1"
RUN = "RMI25320/0123456789abcdef0123456789abcdef"
PIECE = f"incoming/{RUN}/packs/{'a' * 64}.tar.gz"
MANIFEST = f"incoming/{RUN}/manifest.json"
RECEIPT = f"receipts/{RUN}.json"
QUARANTINED = f"quarantine/{RUN}/packs/{'b' * 64}.tar.gz"
PROGRESS = f"progress/{RUN}.json"
ARTIFACT = "RMI25320/logs/20251030_1430/process_log.txt"
REEL = "RMI25320/reels/reel_0001/frame_0001.jpg"
RUN_RECORD = "RMI25320/_runs/20251030_1430/run.json"
TAGS = f"{TAG_MANAGED}={TAG_MANAGED_VALUE}&{TAG_RETENTION}=standard"
#: Calls made before enforcement starts: create the admin user, give it a policy, make its key.
FREE_CALLS = 3


def resolve(node: Any, names: dict[str, str]) -> Any:
    """Replace the template's references to the buckets with the local buckets' names and ARNs."""
    if isinstance(node, list):
        return [resolve(n, names) for n in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return "aws" if node["Ref"] == "AWS::Partition" else names[node["Ref"]]
    if "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        assert attribute == "Arn", node
        return f"arn:aws:s3:::{names[logical_id]}"
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(resolve(p, names) for p in parts)
    return {k: resolve(v, names) for k, v in node.items()}


def synthesized_policies(synth: Synth) -> dict[str, dict[str, Any]]:
    template = synth.template_json
    buckets = resources(template, "AWS::S3::Bucket")
    names = {k: STAGING if k.startswith("Staging") else ARCHIVE for k in buckets}
    assert sorted(names.values()) == [ARCHIVE, STAGING]
    managed = resources(template, "AWS::IAM::ManagedPolicy")
    (uploader,) = [p for k, p in managed.items() if k.startswith("AccessUploader")]
    (filer,) = [
        p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("FilerS3Access")
    ]
    return {
        "uploader": resolve(uploader["Properties"]["PolicyDocument"], names),
        "filer": resolve(filer["Properties"]["PolicyDocument"], names),
    }


class Enforced:
    def __init__(self, endpoint: str, keys: dict[str, dict[str, str]]) -> None:
        self.endpoint = endpoint
        self.keys = keys

    def s3(self, user: str) -> BaseClient:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.keys[user]["AccessKeyId"],
            aws_secret_access_key=self.keys[user]["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )


@pytest.fixture(scope="module")
def enforced(synth: Synth) -> Iterator[Enforced]:
    policies = synthesized_policies(synth)
    with LocalS3Server(env={"INITIAL_NO_AUTH_ACTION_COUNT": str(FREE_CALLS)}) as server:
        assert server.endpoint_url is not None
        iam = boto3.client("iam", endpoint_url=server.endpoint_url, region_name=REGION)
        iam.create_user(UserName="admin")
        admin_policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(admin_policy))
        keys = {"admin": iam.create_access_key(UserName="admin")["AccessKey"]}
        env = Enforced(server.endpoint_url, keys)
        # From here on every request is checked; the unsigned defaults no longer work.
        with pytest.raises(ClientError, match="InvalidClientTokenId|AccessDenied|InvalidAccessKeyId"):
            iam.list_users()
        admin_iam = boto3.client(
            "iam",
            endpoint_url=server.endpoint_url,
            region_name=REGION,
            aws_access_key_id=keys["admin"]["AccessKeyId"],
            aws_secret_access_key=keys["admin"]["SecretAccessKey"],
        )
        for user, document in policies.items():
            admin_iam.create_user(UserName=user)
            arn = admin_iam.create_policy(PolicyName=user, PolicyDocument=json.dumps(document))["Policy"][
                "Arn"
            ]
            admin_iam.attach_user_policy(UserName=user, PolicyArn=arn)
            keys[user] = admin_iam.create_access_key(UserName=user)["AccessKey"]
        admin = env.s3("admin")
        admin.create_bucket(Bucket=STAGING)
        admin.create_bucket(Bucket=ARCHIVE)
        admin.put_bucket_versioning(Bucket=ARCHIVE, VersioningConfiguration={"Status": "Enabled"})
        for key in (PIECE, RECEIPT, QUARANTINED, PROGRESS):
            admin.put_object(Bucket=STAGING, Key=key, Body=b"staged")
        admin.put_object(Bucket=ARCHIVE, Key=ARTIFACT, Body=b"filed", Tagging=TAGS)
        admin.put_object(Bucket=ARCHIVE, Key=REEL, Body=b"reel")
        yield env


def denied(call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    error = raised.value.response["Error"]
    assert error["Code"] in ("AccessDenied", "403"), error


# --- uploader --------------------------------------------------------------------------------------


def test_uploader_uploads_a_run_and_reads_its_receipt(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    s3.put_object(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'c' * 64}", Body=b"blob")
    upload = s3.create_multipart_upload(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'d' * 64}")
    part = s3.upload_part(
        Bucket=STAGING,
        Key=f"incoming/{RUN}/blobs/{'d' * 64}",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"p",
    )
    s3.list_parts(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'d' * 64}", UploadId=upload["UploadId"])
    s3.complete_multipart_upload(
        Bucket=STAGING,
        Key=f"incoming/{RUN}/blobs/{'d' * 64}",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    aborted = s3.create_multipart_upload(Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'e' * 64}")
    s3.abort_multipart_upload(
        Bucket=STAGING, Key=f"incoming/{RUN}/blobs/{'e' * 64}", UploadId=aborted["UploadId"]
    )
    s3.put_object(Bucket=STAGING, Key=MANIFEST, Body=b"{}")
    assert s3.get_object(Bucket=STAGING, Key=RECEIPT)["Body"].read() == b"staged"
    assert s3.list_objects_v2(Bucket=STAGING, Prefix="incoming")["KeyCount"] >= 3


def test_uploader_cannot_read_or_delete_other_staging_objects(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    denied(s3.get_object, Bucket=STAGING, Key=PIECE)
    denied(s3.head_object, Bucket=STAGING, Key=PIECE)
    denied(s3.get_object, Bucket=STAGING, Key=QUARANTINED)
    denied(s3.delete_object, Bucket=STAGING, Key=PIECE)
    denied(s3.delete_object, Bucket=STAGING, Key=RECEIPT)
    denied(s3.put_object, Bucket=STAGING, Key=RECEIPT, Body=b"forged receipt")
    denied(s3.put_object, Bucket=STAGING, Key=QUARANTINED, Body=b"x")
    denied(s3.put_object, Bucket=STAGING, Key="elsewhere/x", Body=b"x")
    denied(s3.put_bucket_policy, Bucket=STAGING, Policy="{}")
    # The filer trusts its progress notes (what it verified): no client may write or read them.
    denied(s3.put_object, Bucket=STAGING, Key=PROGRESS, Body=b"forged progress")
    denied(s3.get_object, Bucket=STAGING, Key=PROGRESS)
    denied(s3.delete_object, Bucket=STAGING, Key=PROGRESS)


def test_uploader_cannot_read_delete_or_overwrite_any_archive_object(enforced: Enforced) -> None:
    s3 = enforced.s3("uploader")
    for key in (ARTIFACT, REEL, RUN_RECORD):
        denied(s3.get_object, Bucket=ARCHIVE, Key=key)
        denied(s3.head_object, Bucket=ARCHIVE, Key=key)
        denied(s3.put_object, Bucket=ARCHIVE, Key=key, Body=b"overwritten")
        denied(s3.delete_object, Bucket=ARCHIVE, Key=key)
        denied(s3.put_object_tagging, Bucket=ARCHIVE, Key=key, Tagging={"TagSet": []})
        denied(s3.create_multipart_upload, Bucket=ARCHIVE, Key=key)
    denied(s3.list_objects_v2, Bucket=ARCHIVE)
    denied(s3.list_object_versions, Bucket=ARCHIVE)
    version = enforced.s3("admin").head_object(Bucket=ARCHIVE, Key=ARTIFACT)
    denied(s3.delete_object, Bucket=ARCHIVE, Key=ARTIFACT, VersionId=version["VersionId"])
    denied(s3.get_object, Bucket=ARCHIVE, Key=ARTIFACT, VersionId=version["VersionId"])
    assert enforced.s3("admin").get_object(Bucket=ARCHIVE, Key=ARTIFACT)["Body"].read() == b"filed"


# --- filer -----------------------------------------------------------------------------------------


def test_filer_does_each_step_of_the_protocol(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    run = "RMI25320/fedcba9876543210fedcba9876543210"
    admin = enforced.s3("admin")
    admin.put_object(Bucket=STAGING, Key=f"incoming/{run}/packs/{'f' * 64}.tar.gz", Body=b"pack")
    admin.put_object(Bucket=STAGING, Key=f"incoming/{run}/manifest.json", Body=b"{}")
    # 2. already done? 3. read the manifest; 5. verify pieces
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.head_object(Bucket=STAGING, Key=f"receipts/{run}.json")
    assert s3.get_object(Bucket=STAGING, Key=f"incoming/{run}/manifest.json")["Body"].read() == b"{}"
    s3.head_object(Bucket=STAGING, Key=f"incoming/{run}/packs/{'f' * 64}.tar.gz")
    listed = s3.list_objects_v2(Bucket=STAGING, Prefix="incoming")
    assert {f"incoming/{run}/manifest.json"} <= {o["Key"] for o in listed["Contents"]}
    # 4. already filed? 6. claim
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.head_object(Bucket=ARCHIVE, Key="RMI25320/_runs/20251031_0900/run.json")
    s3.put_object(Bucket=ARCHIVE, Key="RMI25320/_runs/20251031_0900/claim.json", Body=b"{}", IfNoneMatch="*")
    assert (
        s3.get_object(Bucket=ARCHIVE, Key="RMI25320/_runs/20251031_0900/claim.json")["Body"].read() == b"{}"
    )
    # 7. file: a packed member written with tags, a blob copied server-side, tags set
    key = "RMI25320/logs/20251031_0900/process_log.txt"
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"log", Tagging=TAGS, IfNoneMatch="*")
    s3.copy_object(
        Bucket=ARCHIVE,
        Key="RMI25320/gis_data/20251031_0900/big.gpkg",
        CopySource={"Bucket": STAGING, "Key": f"incoming/{run}/packs/{'f' * 64}.tar.gz"},
        TaggingDirective="REPLACE",
        Tagging=TAGS,
    )
    s3.put_object_tagging(
        Bucket=ARCHIVE,
        Key=key,
        Tagging={
            "TagSet": [
                {"Key": TAG_MANAGED, "Value": TAG_MANAGED_VALUE},
                {"Key": TAG_RETENTION, "Value": "standard"},
            ]
        },
    )
    assert s3.head_object(Bucket=ARCHIVE, Key=key)["ContentLength"] == 3
    # 8. record; 9. clean; 10. receipt, then the manifest goes
    s3.put_object(Bucket=ARCHIVE, Key="RMI25320/_runs/20251031_0900/run.json", Body=b"{}")
    assert s3.list_objects_v2(Bucket=ARCHIVE, Prefix="RMI25320")["KeyCount"] >= 4
    s3.delete_object(Bucket=STAGING, Key=f"incoming/{run}/packs/{'f' * 64}.tar.gz")
    s3.put_object(Bucket=STAGING, Key=f"receipts/{run}.json", Body=b"{}")
    s3.delete_object(Bucket=STAGING, Key=f"incoming/{run}/manifest.json")
    assert s3.get_object(Bucket=STAGING, Key=f"receipts/{run}.json")["Body"].read() == b"{}"


def test_filer_keeps_progress_notes_on_a_long_filing(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    key = "progress/RMI25320/00000000000000000000000000000002.json"
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.get_object(Bucket=STAGING, Key=key)
    s3.put_object(Bucket=STAGING, Key=key, Body=b"{}")
    assert s3.get_object(Bucket=STAGING, Key=key)["Body"].read() == b"{}"
    s3.delete_object(Bucket=STAGING, Key=key)


def test_filer_moves_a_refused_run_to_quarantine(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    run = "RMI25320/00000000000000000000000000000001"
    source = f"incoming/{run}/blobs/{'9' * 64}"
    enforced.s3("admin").put_object(Bucket=STAGING, Key=source, Body=b"bad")
    s3.copy_object(
        Bucket=STAGING,
        Key=f"quarantine/{run}/blobs/{'9' * 64}",
        CopySource={"Bucket": STAGING, "Key": source},
    )
    s3.delete_object(Bucket=STAGING, Key=source)
    s3.put_object(Bucket=STAGING, Key=f"receipts/{run}.json", Body=b'{"status": "refused"}')


def test_filer_can_delete_nothing_in_the_archive(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    for key in (ARTIFACT, REEL, RUN_RECORD):
        denied(s3.delete_object, Bucket=ARCHIVE, Key=key)
    version = enforced.s3("admin").head_object(Bucket=ARCHIVE, Key=ARTIFACT)
    denied(s3.delete_object, Bucket=ARCHIVE, Key=ARTIFACT, VersionId=version["VersionId"])
    # AWS answers 200 with a per-key AccessDenied, a server may refuse the request: either way the
    # object must survive.
    try:
        answer = s3.delete_objects(Bucket=ARCHIVE, Delete={"Objects": [{"Key": REEL}]})
        codes = [e["Code"] for e in answer.get("Errors", [])]
    except ClientError as error:
        codes = [error.response["Error"]["Code"]]
    assert codes == ["AccessDenied"]
    assert enforced.s3("admin").head_object(Bucket=ARCHIVE, Key=REEL)["ContentLength"] == 4
    denied(s3.put_bucket_lifecycle_configuration, Bucket=ARCHIVE, LifecycleConfiguration={"Rules": []})
    denied(s3.put_bucket_policy, Bucket=ARCHIVE, Policy="{}")
    denied(s3.put_bucket_versioning, Bucket=ARCHIVE, VersioningConfiguration={"Status": "Suspended"})


def test_filer_stays_inside_the_staging_protocol(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    denied(s3.put_object, Bucket=STAGING, Key=PIECE, Body=b"forged piece")
    denied(s3.put_object, Bucket=STAGING, Key="elsewhere/x", Body=b"x")
    denied(s3.delete_object, Bucket=STAGING, Key=RECEIPT)
    denied(s3.delete_object, Bucket=STAGING, Key=QUARANTINED)
    denied(s3.get_object, Bucket=STAGING, Key=QUARANTINED)
    denied(s3.put_bucket_notification_configuration, Bucket=STAGING, NotificationConfiguration={})
    denied(s3.get_object_tagging, Bucket=ARCHIVE, Key=ARTIFACT)


# --- reuse index -----------------------------------------------------------------------------------

INDEX = "index/RMI25320/reuse.json"


def test_uploader_reads_the_reuse_index_but_cannot_write_it(enforced: Enforced) -> None:
    enforced.s3("admin").put_object(Bucket=STAGING, Key=INDEX, Body=b"{}")
    s3 = enforced.s3("uploader")
    assert s3.get_object(Bucket=STAGING, Key=INDEX)["Body"].read() == b"{}"
    denied(s3.put_object, Bucket=STAGING, Key=INDEX, Body=b"forged index")
    denied(s3.delete_object, Bucket=STAGING, Key=INDEX)


def test_filer_keeps_the_reuse_index_and_copies_within_the_archive(enforced: Enforced) -> None:
    s3 = enforced.s3("filer")
    key = "index/RMI25320-reuse/reuse.json"
    with pytest.raises(ClientError, match="404|NoSuchKey|Not Found"):
        s3.get_object(Bucket=STAGING, Key=key)
    s3.put_object(Bucket=STAGING, Key=key, Body=b"{}", IfNoneMatch="*")
    etag = s3.head_object(Bucket=STAGING, Key=key)["ETag"]
    s3.put_object(Bucket=STAGING, Key=key, Body=b'{"files": {}}', IfMatch=etag)
    assert s3.get_object(Bucket=STAGING, Key=key)["Body"].read() == b'{"files": {}}'
    # A reused file: HEAD of the earlier copy, then a server-side copy under the new run's key.
    s3.head_object(Bucket=ARCHIVE, Key=ARTIFACT)
    s3.copy_object(
        Bucket=ARCHIVE,
        Key="RMI25320/logs/20251101_0900/process_log.txt",
        CopySource={"Bucket": ARCHIVE, "Key": ARTIFACT},
        MetadataDirective="REPLACE",
        Metadata={"run-id": "0" * 32},
        TaggingDirective="REPLACE",
        Tagging=TAGS,
    )
    denied(s3.delete_object, Bucket=STAGING, Key=key)
