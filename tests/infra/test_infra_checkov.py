"""checkov and cfn-lint on every shape the stack can take: nothing failed, every skip with a reason.

Each entry of ``VARIANTS`` is a deployment option set (context keys as in ``cdk.json``, on top of its
defaults); a new stack option adds its variant here, so its resources are scanned too. A finding is
either fixed in the construct or skipped on the resource with the reason (``infra/components/
_checkov.py``); a skip without a comment counts as unaddressed.

checkov pins an older boto3 than this project's, so it lives in an environment of its own:
``make .venv/.checkov`` (``make test`` does it) installs the pinned version into ``.venv/checkov``;
``CHECKOV`` may name another checkov executable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infra_support import ALARM_EMAIL, IMPORTED_BUCKET, Synth, cdk_json_context, synthesize

from infra.contract import REPO_ROOT

#: Option sets the templates are scanned in; extend with each new stack option.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "imported-archive": {"importArchiveBucketName": IMPORTED_BUCKET, "alarmEmail": ALARM_EMAIL},
    "alarm-email": {"alarmEmail": ALARM_EMAIL},
    "arm64-unbounded-expiring": {
        "filerArchitecture": "arm64",
        "filerMaxConcurrency": 0,
        "archiveExpirationDays": 3650,
    },
    "object-lock-governance": {"objectLockMode": "GOVERNANCE", "objectLockRetentionDays": 30},
    "object-lock-compliance": {"objectLockMode": "COMPLIANCE"},
    "replica-region": {"replicaRegion": "eu-central-1"},
    "kms-created": {"archiveKmsKey": "create"},
    "kms-given": {
        "archiveKmsKey": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    },
    "cloudtrail": {"auditTrail": "cloudtrail"},
    "recovery-all": {
        "objectLockMode": "COMPLIANCE", "replicaRegion": "eu-central-1",
        "replicaBucketName": "rmi-360-raw-replica", "archiveKmsKey": "create",
        "auditTrail": "cloudtrail", "auditLogRetentionDays": 730,
    },
}
#: The version the Makefile pins (``CHECKOV_VERSION :=``).
CHECKOV_VERSION = next(line.split(":=")[1].strip()
                       for line in (REPO_ROOT / "Makefile").read_text().splitlines()
                       if line.startswith("CHECKOV_VERSION"))


def checkov_command() -> list[str]:
    explicit = os.environ.get("CHECKOV")
    candidates = [explicit] if explicit else [
        str(REPO_ROOT / ".venv" / "checkov" / "bin" / "checkov"),
        str(Path(sys.executable).parent / "checkov" / "bin" / "checkov"),
        shutil.which("checkov"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return [candidate]
    pytest.fail("checkov is not installed: run `make .venv/.checkov` (or set CHECKOV)")


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = {**cdk_json_context(), **VARIANTS[request.param]}
    return synthesize(tmp_path_factory.mktemp(f"cdk-{request.param}"), context)


def checkov_results(templates: list[Path]) -> list[dict[str, Any]]:
    """One report per template, from one checkov run over all of them."""
    files = [arg for template in templates for arg in ("--file", str(template))]
    result = subprocess.run(
        [*checkov_command(), *files, "--framework", "cloudformation",
         "--output", "json", "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=600,
    )
    # checkov exits 1 when a check failed: the findings are read either way.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_is_the_pinned_version() -> None:
    result = subprocess.run([*checkov_command(), "--version"], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == CHECKOV_VERSION


def test_checkov_finds_nothing_unaddressed(variant: Synth) -> None:
    reports = checkov_results(variant.template_paths)
    assert sum(r["summary"]["resource_count"] for r in reports) > 10
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        results = report["results"]
        failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
        assert failed == [], "fix these or skip them with a reason (infra/components/_checkov.py)"
        unexplained = [(c["check_id"], c["resource"]) for c in results["skipped_checks"]
                       if len((c.get("check_result") or {}).get("suppress_comment") or "") < 20]
        assert unexplained == [], "every skip needs its reason"


def test_cfn_lint_is_clean(variant: Synth) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "json", *map(str, variant.template_paths)],
        capture_output=True, text=True, timeout=300,
    )
    findings = json.loads(result.stdout or "[]")
    assert [f for f in findings if f["Level"] in ("Error", "Warning")] == []
    assert result.returncode & 6 == 0, result.stderr
