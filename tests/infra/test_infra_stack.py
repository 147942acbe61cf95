"""The composed stack as `cdk synth` builds it: wiring, outputs, cdk-nag, cfn-lint, the image asset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match
from infra_support import IMPORTED_BUCKET, Synth, as_list, resources, statements

from infra.stack import (
    OUTPUT_ALARM_TOPIC,
    OUTPUT_ARCHIVE_BUCKET,
    OUTPUT_READER_POLICY,
    OUTPUT_REGION,
    OUTPUT_STAGING_BUCKET,
    OUTPUT_UPLOADER_POLICY,
)

SYNTHS = ["synth", "imported_synth"]


@pytest.fixture(params=SYNTHS)
def any_synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


def test_outputs_give_the_client_and_the_account_what_they_need(synth: Synth) -> None:
    outputs = synth.template_json["Outputs"]
    for key in (
        OUTPUT_STAGING_BUCKET,
        OUTPUT_ARCHIVE_BUCKET,
        OUTPUT_REGION,
        OUTPUT_UPLOADER_POLICY,
        OUTPUT_READER_POLICY,
    ):
        assert key in outputs
    assert outputs[OUTPUT_REGION]["Value"] == {"Ref": "AWS::Region"}
    assert OUTPUT_ALARM_TOPIC not in outputs


def test_imported_archive_output_is_the_existing_bucket(imported_synth: Synth) -> None:
    outputs = imported_synth.template_json["Outputs"]
    assert outputs[OUTPUT_ARCHIVE_BUCKET]["Value"] == IMPORTED_BUCKET
    assert OUTPUT_ALARM_TOPIC in outputs
    buckets = resources(imported_synth.template_json, "AWS::S3::Bucket")
    assert sorted(k.split("Bucket")[0] for k in buckets) == ["AuditLogs", "Staging"]  # no archive


def test_the_filer_reads_the_buckets_it_is_wired_to(synth: Synth) -> None:
    template = synth.template_json
    buckets = resources(template, "AWS::S3::Bucket")
    staging = next(k for k in buckets if k.startswith("Staging"))
    archive = next(k for k in buckets if k.startswith("Archive"))
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "Environment": {
                "Variables": Match.object_like(
                    {"STAGING_BUCKET": {"Ref": staging}, "ARCHIVE_BUCKET": {"Ref": archive}}
                )
            },
        },
    )


def test_no_allow_statement_anywhere_has_a_wildcard_action(any_synth: Synth) -> None:
    template = any_synth.template_json
    documents = [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::Policy").values()]
    documents += [
        p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::ManagedPolicy").values()
    ]
    for document in documents:
        for statement in statements(document):
            if statement["Effect"] == "Allow":
                for action in as_list(statement["Action"]):
                    assert "*" not in action, statement


def test_cdk_nag_aws_solutions_has_no_unsuppressed_finding(any_synth: Synth) -> None:
    annotations = Annotations.from_stack(any_synth.stack)
    errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert errors == [], [e.entry.data for e in errors]
    assert warnings == [], [w.entry.data for w in warnings]


def test_every_nag_suppression_gives_its_reason(any_synth: Synth) -> None:
    suppressed = 0
    for resource in any_synth.template_json["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            suppressed += 1
            assert len(rule["reason"]) >= 40, rule
    assert suppressed >= 4


def test_cfn_lint_finds_no_error(any_synth: Synth) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "json", str(any_synth.template_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], errors
    # cfn-lint's exit code: 2 means errors; 4 (warnings) and 8 (informational) are acceptable.
    assert result.returncode & 2 == 0, result.stderr


def _image_asset_dir(synth: Synth) -> Path:
    assets = json.loads((synth.outdir / f"{synth.stack.artifact_id}.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["dockerFile"] == "lambdas/Dockerfile"
    return synth.outdir / image["source"]["directory"]


def test_the_image_build_context_holds_only_the_contract_and_the_filer(synth: Synth) -> None:
    context = _image_asset_dir(synth)
    top = sorted(p.name for p in context.iterdir())
    assert set(top) <= {"contract", "lambdas", ".dockerignore"}, top
    assert (context / "lambdas" / "Dockerfile").is_file()
    assert (context / "contract" / "artifact_contract" / "__init__.py").is_file()
    assert (context / "lambdas" / "artifact_filer").is_dir()
    assert not list(context.rglob("*.pyc"))
