"""Bad input on the client, through the command line's ``main()``: each case ends with the guide's
troubleshooting message (or a clearer one) on stderr and the documented exit code, and nothing half
sent. S3 cases run against the embedded S3 server; credentials are removed or expired for real, at
botocore's level, not by patching our own functions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from artifact_backup.cli import main
from artifact_backup.exceptions import EXIT_INPUT, EXIT_OK, EXIT_S3, EXIT_USAGE

pytestmark = pytest.mark.integration


def write(path: Path, data: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def setup(local_stack, tmp_path: Path, project_key: str, isolated_cache, monkeypatch):
    """A project folder with every type, and a config.yaml pointing at the local stack."""
    folder = tmp_path / "projects" / project_key
    write(folder / "config" / "settings.json", "{}")
    write(folder / "logs" / "process_log.txt", "started\n" * 50)
    write(folder / "report" / "report.html", "<html></html>")
    text = f'project:\n  slug: "{project_key}"\n{local_stack.config_block()}'
    config = write(tmp_path / "config.yaml", text)
    monkeypatch.chdir(tmp_path)
    return folder, config, project_key


def upload(capsys, config: Path | str, folder: Path | str, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["upload", "--config", str(config), "--folder", str(folder), *extra])
    out, err = capsys.readouterr()
    return code, out, err


# -- the folder and its files ----------------------------------------------------------------------


def test_missing_folder(setup, capsys):
    _, config, _ = setup
    code, out, err = upload(capsys, config, "projects/NOPE", "--include", "logs")
    assert code == EXIT_INPUT
    assert "error: folder not found: projects/NOPE" in err
    assert "check the --folder path" in err
    assert out == ""


def test_folder_that_is_a_file(setup, capsys):
    folder, config, _ = setup
    code, _, err = upload(capsys, config, folder / "logs" / "process_log.txt", "--include", "logs")
    assert code == EXIT_INPUT
    assert "error: not a folder:" in err


def test_unreadable_file_locked_by_another_program(setup, capsys, monkeypatch):
    """Windows refuses to open a file another program holds; on any system, a permission error."""
    import builtins

    import artifact_backup.pack as pack

    folder, config, _ = setup
    real_open = builtins.open

    def locked(path, *args, **kwargs):
        if str(path).endswith("process_log.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(pack, "open", locked, raising=False)
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_INPUT
    assert "error: cannot read" in err
    assert "process_log.txt: Permission denied" in err
    assert "close the program holding the file" in err


def test_packed_file_shrinking_while_uploaded(setup, capsys, monkeypatch):
    import artifact_backup.upload.manager as upload_module

    folder, config, _ = setup
    real = upload_module.plan_pieces

    def then_truncate(files, config):
        plan = real(files, config)
        (folder / "logs" / "process_log.txt").write_text("cut")
        return plan

    monkeypatch.setattr(upload_module, "plan_pieces", then_truncate)
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_INPUT
    assert "process_log.txt changed while it was being uploaded" in err
    assert "re-run the upload once the program writing it has finished" in err


@pytest.mark.parametrize(("change", "expected"), [("grows", EXIT_OK), ("rewritten", EXIT_INPUT),
                                                ("shrinks", EXIT_INPUT)])
def test_large_file_changing_while_uploaded(setup, capsys, monkeypatch, local_stack, s3, change, expected):
    """A large file travels alone, sent from its path while it is hashed. Growing (a live log) is
    fine: it is sent again once hashed, and the bytes hashed are the bytes sent. Rewritten or
    shrunk, the bytes sent are not the ones the manifest would declare: the client says so instead
    of committing a run the filer refuses."""
    import artifact_backup.upload.blob_task as upload_module

    folder, config, project_key = setup
    original = b"2025-10-30 14:30:00 INFO frame ok\n" * (9 * 1024 * 1024 // 34 + 1)  # over 8 MiB: a blob
    big = write(folder / "logs" / "big_log.txt", original)
    real = upload_module.digest_file
    changed: list[str] = []

    def hash_then_change(f, *args):
        digest = real(f, *args)
        if f.source == big and not changed:
            changed.append(change)
            if change == "grows":
                with big.open("ab") as handle:
                    handle.write(b"one more line\n")
            elif change == "rewritten":
                big.write_bytes(original.replace(b"ok", b"KO"))
            else:
                big.write_bytes(original[:1000])
        return digest

    monkeypatch.setattr(upload_module, "digest_file", hash_then_change)
    argv = ("--include", "logs", "--custom-timestamp", "20251030_1430")
    code, out, err = upload(capsys, config, folder, *argv)
    assert code == expected, err
    if expected == EXIT_INPUT:
        assert "big_log.txt changed while it was being uploaded" in err
        assert "re-run the upload once the program writing it has finished" in err
    else:
        key = f"{project_key}/logs/20251030_1430/big_log.txt"
        archived = s3.get_object(Bucket=local_stack.names.archive_bucket, Key=key)["Body"].read()
        assert archived == original


def test_file_name_not_utf8(setup, capsys):
    folder, config, _ = setup
    write(folder / "logs" / os.fsdecode(b"frame_\xff\xfe.log"), "x")
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_INPUT
    assert "error: file name is not valid UTF-8:" in err
    assert "frame_\\xff\\xfe.log" in err
    assert "rename the file" in err


# -- Windows-style paths ---------------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="drive paths exist on Windows")
def test_windows_drive_folder_on_the_command_line(setup, capsys):
    _, config, project_key = setup
    code, _, err = upload(capsys, config, f"D:/Process360_Data/projects/{project_key}", "--include", "logs")
    assert code == EXIT_INPUT
    assert f"error: folder not found: D:/Process360_Data/projects/{project_key}" in err
    assert "it is a Windows drive path" in err


@pytest.mark.skipif(os.name == "nt", reason="drive paths exist on Windows")
def test_windows_drive_config_on_the_command_line(setup, capsys):
    folder, _, _ = setup
    code, _, err = upload(capsys, "D:\\Process360_Data\\config.yaml", folder, "--include", "logs")
    assert code == EXIT_USAGE
    assert "error: config file D:\\Process360_Data\\config.yaml not found" in err
    assert "a Windows drive path cannot be opened on this system" in err


def test_backslashes_in_the_folder_argument(setup, capsys):
    _, config, project_key = setup
    code, out, err = upload(capsys, config, f"projects\\{project_key}", "--include", "logs", "--dry-run")
    assert code == EXIT_OK, err
    assert "Would upload 1 file" in out


def test_backslashes_in_configured_type_folders(setup, capsys):
    folder, config, _ = setup
    write(folder / "processing" / "logs" / "mosaic.log", "m\n")
    paths = 'orchestrator:\n  artifact_paths:\n    logs: "processing\\\\logs"\n'
    config.write_text(config.read_text() + paths)
    code, out, err = upload(capsys, config, folder, "--include", "logs", "--dry-run", "-v")
    assert code == EXIT_OK, err
    assert "logs/mosaic.log" in out


@pytest.mark.skipif(os.name == "nt", reason="drive paths exist on Windows")
def test_windows_drive_in_configured_type_folders(setup, capsys):
    folder, config, _ = setup
    config.write_text(config.read_text()
                      + 'orchestrator:\n  artifact_paths:\n    logs: "D:\\\\Process360_Data\\\\logs"\n')
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_INPUT
    assert "nothing to upload: no logs files" in err
    assert "looked in D:/Process360_Data/logs (a Windows drive path, which this system cannot open" in err
    assert "orchestrator.artifact_paths.logs" in err


# -- nothing to upload -----------------------------------------------------------------------------


def test_empty_selection(setup, capsys):
    folder, config, _ = setup
    code, out, err = upload(capsys, config, folder, "--include", "gis_data")
    assert code == EXIT_INPUT
    assert f"error: nothing to upload: no gis_data files in {folder}" in err
    assert f"looked in {folder / 'gis_data'}" in err
    assert out == ""


def test_empty_selection_after_the_extension_filter(setup, capsys):
    folder, config, _ = setup
    write(folder / "gis_data" / "basemap.tif", "not kept")
    code, _, err = upload(capsys, config, folder, "--include", "gis_data")
    assert code == EXIT_INPUT
    assert "1 file(s) were left out by the extension filter" in err


def test_empty_selection_after_a_workflow_is_not_an_error(setup):
    """The orchestrator's hook reports it and carries on: a run without artifacts is not a failure."""
    from artifact_backup import upload_after_workflow

    folder, config, _ = setup
    config.write_text(config.read_text()
                      + "orchestrator:\n  upload_artifacts_to_s3: true\n  artifact_types: [gis_data]\n")
    result = upload_after_workflow(config, folder, workflow_succeeded=True)
    assert (result.status, result.reason) == ("skipped", "nothing-to-upload")


# -- credentials and buckets -----------------------------------------------------------------------


def _without_credentials(monkeypatch, tmp_path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_missing_credentials(setup, capsys, monkeypatch, tmp_path):
    """Against AWS. botocore refuses to sign without credentials, so nothing leaves the machine."""
    folder, config, _ = setup
    _without_credentials(monkeypatch, tmp_path)
    code, _, err = upload(
        capsys, config, folder, "--include", "logs", "--endpoint-url", "https://s3.eu-west-1.amazonaws.com"
    )
    assert code == EXIT_S3
    assert "error: Failed to upload artifacts to S3: no AWS credentials found" in err
    assert "configure credentials" in err
    assert "1. AWS credentials are configured" in err


def test_embedded_server_needs_no_credentials(setup, capsys, monkeypatch, tmp_path):
    """The local stack takes any key: a newcomer trying it has no AWS set-up to do."""
    folder, config, project = setup
    _without_credentials(monkeypatch, tmp_path)
    code, out, err = upload(capsys, config, folder, "--include", "logs", "--timestamp")
    assert code == 0, err
    assert f"/{project}/logs/" in out


def _answer(status: int, code: str, message: str):
    """A botocore before-send handler: S3's own XML error, so botocore parses it as it would AWS's."""
    from botocore.awsrequest import AWSResponse

    body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>1</RequestId></Error>").encode()

    class Raw:
        def stream(self, **kwargs):
            yield body

    def handler(request, **kwargs):
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, Raw())

    return handler


@pytest.fixture
def s3_answers(monkeypatch):
    """Make the upload's S3 client answer every request with ``handler``'s response."""
    import artifact_backup.upload.manager as upload_module

    real = upload_module.make_s3_client

    def install(handler):
        def make(settings):
            client = real(settings)
            client.meta.events.register_first("before-send.s3.*", handler)
            return client

        monkeypatch.setattr(upload_module, "make_s3_client", make)

    return install


def test_expired_session_token(setup, capsys, s3_answers):
    folder, config, _ = setup
    s3_answers(_answer(400, "ExpiredToken", "The provided token has expired."))
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_S3
    assert "error: Failed to upload artifacts to S3: AWS credentials have expired" in err
    assert "refresh the session token or log in again" in err


def test_expired_sso_login(setup, capsys, s3_answers):
    from botocore.exceptions import TokenRetrievalError

    folder, config, _ = setup

    def expired(request, **kwargs):
        raise TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed")

    s3_answers(expired)
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_S3
    assert "AWS credentials have expired" in err
    assert "aws sso login" in err


def test_bucket_that_does_not_exist(setup, capsys):
    folder, config, _ = setup
    config.write_text(config.read_text().replace("rmi-360-raw", "no-such-archive"))
    code, _, err = upload(capsys, config, folder, "--include", "logs")
    assert code == EXIT_S3
    assert "error: Failed to upload artifacts to S3: s3://no-such-archive-staging does not exist" in err
    assert "3. Bucket exists and is accessible" in err
