"""The policies of the synthesized template on the local S3 server with IAM enforcement on.

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

Two things IAM does that the server does not are done here, as IAM does them, before a policy is
loaded: policy variables (``${aws:PrincipalTag/...}``) are replaced by the user's tag values (a tag
the user lacks makes its resource match nothing, so it is left out), and IAM's one-character
wildcard ``?`` is written as the server's ``.`` (it matches resources as regular expressions after
turning ``*`` into ``.*``). A conditional Deny is in force for the server whatever the request, so
the filer appears twice: ``filer``, every statement in force, is what a request that breaks a
condition meets (a write without If-None-Match, a re-tag); ``filer-conforming`` lacks the Deny
statements and is what a request meeting their conditions meets (a write with If-None-Match).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from infra_support import Synth, resources

from artifact_backup.local.server import LocalS3Server
from infra.components.access import PROJECT_TAG
from infra.contract import TAG_MANAGED, TAG_MANAGED_VALUE, TAG_RETENTION

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
FROZEN = "RMI25320/gis_data/20240101_0900/orthomosaic.gpkg"
SECOND_RUN = "RMI99999/fedcba9876543210fedcba9876543210"
TAGS = f"{TAG_MANAGED}={TAG_MANAGED_VALUE}&{TAG_RETENTION}=standard"
#: Calls made before enforcement starts: create the admin user, give it a policy, make its key.
FREE_CALLS = 3


#: The uploader's projects: two of the principal-tag slots (docs/deploy.md), the second numbered.
UPLOADER_TAGS = {PROJECT_TAG: "RMI25320", f"{PROJECT_TAG}-2": "RMI99999"}
OTHER_RUN = "OTHER01/0123456789abcdef0123456789abcdef"
_VARIABLE = re.compile(r"\$\{aws:PrincipalTag/([^}]+)\}")


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
        joined = separator.join(resolve(p, names) for p in parts)
        return joined.replace("?", ".") if joined.startswith("arn:") else joined
    return {k: resolve(v, names) for k, v in node.items()}


def synthesized_policies(synth: Synth) -> dict[str, dict[str, Any]]:
    template = synth.template_json
    buckets = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith(("Staging", "Archive"))]
    names = {k: STAGING if k.startswith("Staging") else ARCHIVE for k in buckets}
    assert sorted(names.values()) == [ARCHIVE, STAGING]
    managed = resources(template, "AWS::IAM::ManagedPolicy")
    (uploader,) = [p for k, p in managed.items() if k.startswith("AccessUploader")]
    (filer,) = [
        p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("FilerS3Access")
    ]
    (reader,) = [p for k, p in managed.items() if k.startswith("AccessReader")]
    filer_document = resolve(filer["Properties"]["PolicyDocument"], names)
    uploader_document = resolve(uploader["Properties"]["PolicyDocument"], names)
    return {
        "uploader": with_principal_tags(uploader_document, UPLOADER_TAGS),
        "uploader-untagged": with_principal_tags(uploader_document, {}),
        "filer": filer_document,
        "filer-conforming": {
            **filer_document,
            "Statement": [s for s in filer_document["Statement"] if s["Effect"] == "Allow"],
        },
        "reader": resolve(reader["Properties"]["PolicyDocument"], names),
    }


def with_principal_tags(document: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """The policy as IAM evaluates it for a user with ``tags``: each ``${aws:PrincipalTag/k}``
    replaced by the tag's value, a resource naming a tag the user lacks dropped (it matches nothing)."""

    def substitute(value: str) -> str | None:
        keys = _VARIABLE.findall(value)
        if any(k not in tags for k in keys):
            return None
        return _VARIABLE.sub(lambda m: tags[m.group(1)], value)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            kept = [walk(n) for n in node]
            return [k for k in kept if k is not None]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return substitute(node) if isinstance(node, str) else node

    statements = []
    for statement in walk(document)["Statement"]:
        if statement.get("Resource"):  # a statement left with no resource grants nothing
            statements.append(statement)
    return {**document, "Statement": statements}


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


@contextmanager
def enforced_server(synth: Synth) -> Iterator[Enforced]:
    """The server with one user per policy (``synthesized_policies``) and the buckets seeded."""
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
        admin.put_object(Bucket=ARCHIVE, Key=FROZEN, Body=b"frozen", Tagging=TAGS, StorageClass="GLACIER")
        for key in (f"incoming/{OTHER_RUN}/manifest.json", f"receipts/{OTHER_RUN}.json",
                    "index/OTHER01/reuse.json", f"receipts/{SECOND_RUN}.json"):
            admin.put_object(Bucket=STAGING, Key=key, Body=b"other")
        yield env


def denied(call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    error = raised.value.response["Error"]
    assert error["Code"] in ("AccessDenied", "403"), error
