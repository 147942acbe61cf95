"""checkov findings the stack accepts, recorded on the resource with the reason (checkov's own
``Metadata: {checkov: {skip: [{id, comment}]}}``), so an accepted choice reads differently from an
oversight: every finding on a synthesized template is fixed or skipped here, none left unaddressed.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import Construct

NO_VPC = (
    "The function talks only to S3, SQS and CloudWatch Logs through their public TLS endpoints with IAM "
    "credentials; a VPC would need NAT or endpoints and isolate nothing more."
)
PLAIN_ENVIRONMENT = (
    "The environment holds bucket names, the queue URL and tuning numbers, no secret; Lambda encrypts it "
    "at rest with its service key."
)
LOGS_AT_REST = (
    "CloudWatch Logs encrypts log data at rest with its service keys; these logs hold run identities "
    "and refusal reasons, never artifact contents, which a customer KMS key would not protect better."
)
SQS_MANAGED = (
    "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled); S3 event notifications cannot publish to a "
    "queue under the AWS-managed KMS key, and a customer key adds a fee and no protection here."
)
DEPLOY_TIME_FUNCTION = (
    "A deploy-time custom-resource function of the stack or the construct library: it runs only during "
    "a deployment, once, invoked by CloudFormation, which retries and reports its failures itself."
)


def skip_checks(construct: Construct, *skips: tuple[str, str]) -> None:
    """Record ``(check id, reason)`` skips on ``construct``'s CloudFormation resource (its default
    child for an L2 construct), adding to any skips already there."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    listed = list((resource.get_metadata("checkov") or {}).get("skip", []))
    known = {entry["id"] for entry in listed}
    listed += [{"id": check, "comment": reason} for check, reason in skips if check not in known]
    resource.add_metadata("checkov", {"skip": listed})


def skip_for_deploy_time_function(function: Construct) -> None:
    """The findings on a function that runs only while the stack deploys."""
    skip_checks(
        function,
        ("CKV_AWS_115", DEPLOY_TIME_FUNCTION),
        ("CKV_AWS_116", DEPLOY_TIME_FUNCTION),
        ("CKV_AWS_117", NO_VPC),
        ("CKV_AWS_173", PLAIN_ENVIRONMENT),
    )
