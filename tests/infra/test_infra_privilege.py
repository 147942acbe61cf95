"""Least privilege as the synthesized template states it: the conditions no local server evaluates.

Every condition key a policy uses must be one S3 supplies for each action of its statement, or the
statement silently never matches on AWS (an Allow then denies, a Deny protects nothing). The table
below is the S3 part of the Service Authorization Reference ("Actions, resources, and condition keys
for Amazon S3") for the actions these policies name, leaving out the keys every S3 action has
(authType, signatureAge, TlsVersion, access points, ...), which no policy here uses.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_support import Synth, as_list, resources, statements

from artifact_contract import archive_key, claim_key, format_timestamp, pin_note_key, run_record_key
from infra.components.access import PROJECT_TAG, PROJECT_TAG_SLOTS, project_tag_keys
from infra.components.filer import TIMESTAMPED_KEYS
from infra.contract import RETENTION_PINNED, RETENTION_STANDARD, TAG_MANAGED, TAG_RETENTION

#: Condition keys S3 supplies, by action (Service Authorization Reference; ``<key>`` for a tag key).
S3_CONDITION_KEYS: dict[str, set[str]] = {
    "s3:PutObject": {
        "s3:ObjectCreationOperation", "s3:RequestObjectTag/<key>", "s3:RequestObjectTagKeys",
        "s3:if-match", "s3:if-none-match", "s3:object-lock-legal-hold", "s3:object-lock-mode",
        "s3:object-lock-remaining-retention-days", "s3:object-lock-retain-until-date", "s3:x-amz-acl",
        "s3:x-amz-copy-source", "s3:x-amz-metadata-directive", "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id", "s3:x-amz-storage-class",
    },
    "s3:PutObjectTagging": {"s3:ExistingObjectTag/<key>", "s3:RequestObjectTag/<key>",
                            "s3:RequestObjectTagKeys"},
    "s3:GetObject": {"s3:ExistingObjectTag/<key>", "s3:if-match", "s3:if-none-match"},
    "s3:GetObjectTagging": {"s3:ExistingObjectTag/<key>"},
    "s3:GetObjectVersion": {"s3:ExistingObjectTag/<key>", "s3:versionid"},
    "s3:PutObjectVersionTagging": {"s3:ExistingObjectTag/<key>", "s3:RequestObjectTag/<key>",
                                   "s3:RequestObjectTagKeys", "s3:versionid"},
    "s3:ListBucketVersions": {"s3:delimiter", "s3:max-keys", "s3:prefix"},
    "s3:GetBucketVersioning": set(),
    "s3:ListBucket": {"s3:delimiter", "s3:max-keys", "s3:prefix"},
    "s3:RestoreObject": set(),
    "s3:DeleteObject": set(),
    "s3:AbortMultipartUpload": set(),
    "s3:ListMultipartUploadParts": set(),
    "s3:GetBucketLocation": set(),
}


def s3_policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for logical_id, policy in resources(template, kind).items():
            listed = statements(policy["Properties"]["PolicyDocument"])
            if any(a.startswith("s3:") for s in listed for a in as_list(s["Action"])):
                found[logical_id] = listed
    return found


def by_sid(template: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    (listed,) = [v for k, v in s3_policies(template).items() if k.startswith(prefix)]
    return {s["Sid"]: s for s in listed if "Sid" in s}


def _generic(key: str) -> str:
    return re.sub(r"^(s3:(?:Existing|Request)ObjectTag)/.+$", r"\1/<key>", key)


@pytest.mark.parametrize("which", ["synth", "imported_synth"])
def test_every_condition_key_is_one_s3_supplies_for_its_actions(which: str, request: Any) -> None:
    synth: Synth = request.getfixturevalue(which)
    checked = 0
    for logical_id, listed in s3_policies(synth.template_json).items():
        for statement in listed:
            keys = {_generic(k) for block in statement.get("Condition", {}).values() for k in block}
            keys = {k for k in keys if k.startswith("s3:")}  # global aws:* keys apply to every action
            if not keys:
                continue
            for action in as_list(statement["Action"]):
                if not action.startswith("s3:"):
                    continue
                assert action in S3_CONDITION_KEYS, f"{action} of {logical_id}: add it to the table"
                unknown = keys - S3_CONDITION_KEYS[action]
                where = f"{logical_id} {statement.get('Sid')}"
                assert not unknown, f"{where}: S3 supplies no {unknown} for {action}"
                checked += len(keys)
    assert checked >= 8


# --- uploader --------------------------------------------------------------------------------------


def test_uploader_resources_all_name_the_callers_project_tag(synth: Synth) -> None:
    sids = by_sid(synth.template_json, "AccessUploader")
    variables = [f"${{aws:PrincipalTag/{key}}}" for key in project_tag_keys()]
    assert len(variables) == PROJECT_TAG_SLOTS
    assert variables[0].endswith(f"/{PROJECT_TAG}}}")
    for sid in ("UploadRunsOfOwnProjects", "ReadOwnReceiptsAndReuseIndex"):
        targets = [str(r) for r in as_list(sids[sid]["Resource"])]
        assert targets, sid
        assert all(any(v in t for v in variables) for t in targets), sid
        # Every slot is named: a machine tagged with a second project reaches it too.
        assert all(any(v in t for t in targets) for v in variables), sid
    listing = sids["ListOwnStaging"]
    prefixes = listing["Condition"]["StringLike"]["s3:prefix"]
    assert sorted(prefixes) == sorted(f"{p}{v}/*" for v in variables for p in ("incoming/", "receipts/"))


# --- filer -----------------------------------------------------------------------------------------


def _iam_match(pattern: str, key: str) -> bool:
    """IAM's ARN wildcards: ``*`` any run of characters, ``?`` exactly one, slashes included."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, key) is not None


def test_the_timestamped_pattern_covers_every_timestamped_key_and_no_untimestamped_one() -> None:
    ts = format_timestamp()
    timestamped = [
        archive_key("RMI25320", "logs", ts, "process_log.txt"),
        archive_key("RMI25320", "gis_data", ts, "tiles/2025/a.tif"),
        claim_key("RMI25320", ts),
        run_record_key("RMI25320", ts, "0" * 32),
    ]
    untimestamped = [
        archive_key("RMI25320", "logs", None, "process_log.txt"),
        archive_key("RMI25320", "gis_data", None, "tiles/2025/a.tif"),
        run_record_key("RMI25320", None, "0" * 32),
        pin_note_key("RMI25320", None, "0" * 32),
    ]
    assert all(_iam_match(TIMESTAMPED_KEYS, k) for k in timestamped)
    assert not any(_iam_match(TIMESTAMPED_KEYS, k) for k in untimestamped)


def test_filer_writes_timestamped_keys_only_conditionally(synth: Synth) -> None:
    deny = by_sid(synth.template_json, "FilerS3Access")["ArchiveTimestampedWriteOnce"]
    assert deny["Effect"] == "Deny"
    assert as_list(deny["Action"]) == ["s3:PutObject"]
    assert deny["Resource"]["Fn::Join"][1][-1] == f"/{TIMESTAMPED_KEYS}"
    # Denied when both conditional headers are absent (Null's keys are and-ed); the parts of a
    # multipart upload, which cannot carry one, are let through (their completion must carry it).
    assert deny["Condition"] == {
        "Null": {"s3:if-none-match": "true", "s3:if-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }


def test_filer_never_retags_a_pinned_object_and_tags_only_as_it_files(synth: Synth) -> None:
    sids = by_sid(synth.template_json, "FilerS3Access")
    deny = sids["ArchiveNeverRetagPinned"]
    assert (deny["Effect"], as_list(deny["Action"])) == ("Deny", ["s3:PutObjectTagging"])
    assert deny["Condition"] == {"StringEquals": {f"s3:ExistingObjectTag/{TAG_RETENTION}": RETENTION_PINNED}}
    tag = sids["ArchiveTagAsFiledOnly"]
    assert tag["Effect"] == "Allow"
    assert tag["Condition"]["StringEquals"][f"s3:RequestObjectTag/{TAG_RETENTION}"] == RETENTION_STANDARD
    tag_keys = tag["Condition"]["ForAllValues:StringEquals"]["s3:RequestObjectTagKeys"]
    assert tag_keys == [TAG_MANAGED, TAG_RETENTION]
    # No other statement lets the filer tag; on the archive it may read versions (an untimestamped
    # run's record names them) but never change or delete one, nor delete anything.
    allowed = [s for s in sids.values() if s["Effect"] == "Allow"]
    assert [a for s in allowed for a in as_list(s["Action"])].count("s3:PutObjectTagging") == 1
    archive_actions = [a for sid, s in sids.items() if sid.startswith("Archive") and s["Effect"] == "Allow"
                       for a in as_list(s["Action"])]
    assert archive_actions
    assert not [a for a in archive_actions if "Delete" in a or a.startswith("s3:PutObjectVersion")]


def test_reader_restore_has_no_condition_s3_cannot_supply(synth: Synth) -> None:
    restore = by_sid(synth.template_json, "AccessReader")["RestoreArtifacts"]
    assert "Condition" not in restore
    assert as_list(restore["Action"]) == ["s3:RestoreObject"]
