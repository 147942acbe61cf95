"""upload_after_workflow: the orchestrator's switch, types and failed workflows."""

from __future__ import annotations

from client_support import CONFIG_TEXT, PROJECT, Filer, write

from artifact_backup import upload_after_workflow


def test_failed_workflow_uploads_nothing(tmp_path, project, calls):
    result = upload_after_workflow(tmp_path / "missing.yaml", project, workflow_succeeded=False)
    assert (result.status, result.reason) == ("skipped", "workflow-failed")
    assert calls.total == 0


def test_switch_off_uploads_nothing(tmp_path, project, calls):
    config = write(tmp_path / "off.yaml", CONFIG_TEXT.replace("upload_artifacts_to_s3: true",
                                                              "upload_artifacts_to_s3: false"))
    result = upload_after_workflow(config, project, workflow_succeeded=True)
    assert (result.status, result.reason) == ("skipped", "disabled")
    assert calls.total == 0


def test_switch_default_is_off(tmp_path, project):
    config = write(tmp_path / "default.yaml", "aws:\n  s3_bucket_raw: rmi-360-raw\n")
    assert upload_after_workflow(config, project, workflow_succeeded=True).reason == "disabled"


def test_empty_types_upload_nothing(tmp_path, project):
    config = write(tmp_path / "none.yaml", CONFIG_TEXT.replace(
        "  artifact_types:\n    - config\n    - logs\n    - report\n", "  artifact_types: []\n"))
    assert upload_after_workflow(config, project, workflow_succeeded=True).reason == "no-artifact-types"


def test_success_uploads_the_configured_types(config_file, project, s3, journal):
    result = upload_after_workflow(
        config_file, project, workflow_succeeded=True, client=s3, subscribers=[Filer(s3)], journal=journal
    )
    assert result.status == "filed"
    assert result.project_key == PROJECT  # from project.slug
    assert result.timestamp is not None  # the automatic upload is timestamped
    assert result.files_per_type == {"config": 2, "logs": 4, "report": 3}
    assert any(url.endswith(f"/config/{result.timestamp}/") for url in result.archive_urls())


def test_nothing_to_upload_is_a_result(tmp_path, config_file, s3, journal):
    empty = tmp_path / "empty"
    empty.mkdir()
    other = write(tmp_path / "cfg" / "config.yaml", CONFIG_TEXT.replace(
        "    - config\n", ""))
    result = upload_after_workflow(other, empty, workflow_succeeded=True, client=s3, journal=journal)
    assert (result.status, result.reason) == ("skipped", "nothing-to-upload")
    assert result.warnings[0].startswith("nothing to upload")
