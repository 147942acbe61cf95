"""Record, on the CloudFormation resource itself, a checkov finding that is deliberate and why."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import Construct


def skip(construct: Construct, findings: list[tuple[str, str]]) -> None:
    """Add ``(check id, reason)`` pairs to the resource's ``Metadata.checkov.skip`` (kept across
    calls, so two constructs may each add their own reasons to one resource)."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    current = resource.get_metadata("checkov") or {}
    skips = list(current.get("skip", []))
    known = {s["id"] for s in skips}
    skips += [{"id": check, "comment": reason} for check, reason in findings if check not in known]
    resource.add_metadata("checkov", {**current, "skip": skips})
