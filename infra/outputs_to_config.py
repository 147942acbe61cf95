"""Turn the deployed stack's outputs into the ``aws:`` block of the client's config.yaml.

Either from the file ``cdk deploy --outputs-file cdk-outputs.json`` writes, or by asking
CloudFormation (boto3) for the stack's outputs. It prints YAML and needs neither the client package
nor PyYAML, so it runs wherever the stack was deployed from::

    python -m infra.outputs_to_config --outputs-file cdk-outputs.json
    python -m infra.outputs_to_config --stack ArtifactBackup --region eu-west-1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from .stack import OUTPUT_ARCHIVE_BUCKET, OUTPUT_REGION, OUTPUT_STAGING_BUCKET

DEFAULT_STACK = "ArtifactBackup"


class OutputsError(Exception):
    """The outputs do not describe this stack: the user should hear which key is missing."""


def config_block(outputs: Mapping[str, str]) -> str:
    missing = [k for k in (OUTPUT_ARCHIVE_BUCKET, OUTPUT_STAGING_BUCKET, OUTPUT_REGION) if not outputs.get(k)]
    if missing:
        raise OutputsError(
            "the stack outputs lack " + ", ".join(missing) + ": is this the artifact-backup stack?"
        )
    return (
        "aws:\n"
        f"  s3_bucket_raw: {json.dumps(outputs[OUTPUT_ARCHIVE_BUCKET])}\n"
        f"  s3_bucket_staging: {json.dumps(outputs[OUTPUT_STAGING_BUCKET])}\n"
        f"  region: {json.dumps(outputs[OUTPUT_REGION])}\n"
    )


def outputs_from_file(path: Path, stack: str | None) -> dict[str, str]:
    """``cdk deploy --outputs-file`` writes ``{stack name: {output key: value}}``."""
    data = json.loads(path.read_text())
    if stack is None:
        if len(data) != 1:
            raise OutputsError(f"{path} holds stacks {sorted(data)}: choose one with --stack")
        (stack,) = data
    if stack not in data:
        raise OutputsError(f"{path} has no stack {stack!r} (it has {sorted(data)})")
    return dict(data[stack])


def outputs_from_cloudformation(stack: str, region: str | None) -> dict[str, str]:
    import boto3

    client = boto3.client("cloudformation", region_name=region)
    (described,) = client.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.outputs_to_config", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--outputs-file", type=Path, help="the JSON file `cdk deploy --outputs-file` wrote")
    parser.add_argument("--stack", help=f"stack name (default: the only one in the file, or {DEFAULT_STACK})")
    parser.add_argument("--region", help="region to ask CloudFormation in (default: your AWS configuration)")
    args = parser.parse_args(argv)
    try:
        if args.outputs_file:
            outputs = outputs_from_file(args.outputs_file, args.stack)
        else:
            outputs = outputs_from_cloudformation(args.stack or DEFAULT_STACK, args.region)
        sys.stdout.write(config_block(outputs))
    except (OutputsError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
