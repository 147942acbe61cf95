"""Synthesis and template helpers shared by the infrastructure tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Aspects, Stack
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.contract import REPO_ROOT
from infra.replica_stack import ReplicaStack
from infra.settings import Settings
from infra.stack import ArtifactBackupStack, build

CDK_JSON = REPO_ROOT / "cdk.json"
IMPORTED_BUCKET = "rmi-360-raw"
ALARM_EMAIL = "ops@example.com"


@dataclass
class Synth:
    app: App
    stack: ArtifactBackupStack
    template: Template
    outdir: Path
    replica: ReplicaStack | None = None

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.artifact_id}.template.json"

    @property
    def template_paths(self) -> list[Path]:
        """Every stack's template: the main one, and the replica region's when there is one."""
        extra = [self.outdir / f"{self.replica.artifact_id}.template.json"] if self.replica else []
        return [self.template_path, *extra]

    @property
    def template_json(self) -> dict[str, Any]:
        return self.template.to_json()


def cdk_json_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text())["context"]


def synthesize(outdir: Path, context: dict[str, Any]) -> Synth:
    app = App(outdir=str(outdir), context=context)
    settings = Settings.from_context(app)
    stack, replica = build(app, settings)
    Aspects.of(app).add(AwsSolutionsChecks())
    app.synth()
    return Synth(app, stack, Template.from_stack(stack), outdir, replica)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy_document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


#: The settings every construct is synthesized with unless a test says otherwise.
DEFAULTS = Settings()


def bare_stack() -> Stack:
    """A stack holding nothing: a construct synthesized in it shows what it adds alone."""
    return Stack(App(), "Bare")


def tls_only_policy() -> dict[str, Any]:
    return {
        "PolicyDocument": {
            "Statement": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Effect": "Deny",
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    )
                ]
            )
        }
    }


def resource_text(statement: dict[str, Any]) -> str:
    """A statement's resources as one text, to look for a prefix in any of them."""
    return json.dumps(statement["Resource"])
