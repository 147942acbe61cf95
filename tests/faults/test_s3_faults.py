"""S3 failing under the client and under the filer: 500s, 503 SlowDown bursts, connections dropped
before a request arrives, half-way through it, after S3 acted on it, and half-way through the answer.

Each fault is injected on the wire by :class:`FaultProxy`; botocore's standard retry mode (as
``aws.client_config`` and ``handler.build_filer`` configure it) and SQS redelivery must absorb it,
and the run must end filed exactly once. Faults beyond the retry budget must be reported: the
guide's "Failed to upload artifacts to S3" on the client, a failed SQS record (and, after the
queue's receive count, the dead-letter queue) on the filer; never a silent skip.
"""

from __future__ import annotations

import pytest

from artifact_backup.exceptions import UploadFailedError
from artifact_contract import manifest_key, run_record_key, staging_run_prefix
from tests.support.s3 import list_keys

from .support import assert_filed_once, backup, drain, make_project, queue_depth

STAGING = "rmi-360-raw-staging"
ARCHIVE = "rmi-360-raw"
TS = "20251030_1200"
FAULTS = ("500", "503", "drop", "drop-mid-request", "drop-after", "truncate")

#: Every kind of request the client makes: piece puts, multipart parts, the manifest, receipt polls.
CLIENT_TARGETS = (
    rf"^PUT /{STAGING}/incoming/.*/packs/",
    rf"^(PUT|POST) /{STAGING}/incoming/.*/blobs/",
    rf"^PUT /{STAGING}/incoming/.*/manifest\.json",
    rf"^GET /{STAGING}/receipts/",
)
#: Every kind of request the filer makes: receipt and manifest reads, piece reads, archive writes
#: (claim, files, copies, multipart copies, record), staging clean-up, the receipt.
FILER_TARGETS = (
    rf"^GET /{STAGING}/receipts/",
    rf"^GET /{STAGING}/incoming/.*/manifest\.json",
    rf"^GET /{STAGING}/incoming/.*/(packs|blobs)/",
    rf"^PUT /{ARCHIVE}/.*/_runs/.*/claims/",
    rf"^PUT /{ARCHIVE}/P1/logs/",
    rf"^PUT /{ARCHIVE}/P1/gis_data/[^?]*$",
    rf"^(PUT|POST) /{ARCHIVE}/P1/gis_data/.*\?(uploads|partNumber|uploadId)",
    rf"^PUT /{ARCHIVE}/.*/_runs/.*/runs/",
    rf"^POST /{STAGING}\?delete",
    rf"^PUT /{STAGING}/receipts/",
)


@pytest.mark.parametrize("fault", FAULTS)
def test_client_and_filer_survive_s3_faults(fault, tmp_path, stack, s3, client_proxy, filer_proxy,
                                            make_filer, running_worker):
    make_filer(filer_proxy.endpoint_url)
    # A burst on every kind of request of both sides: two failures in a row each (one for a cut-off
    # answer on the filer's side, which its own re-read or SQS absorbs), within the retry budgets.
    client_rules = [client_proxy.inject(fault, target, times=2) for target in CLIENT_TARGETS]
    filer_rules = [filer_proxy.inject(fault, target, times=1 if fault == "truncate" else 2)
                   for target in FILER_TARGETS]
    folder = make_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", endpoint_url=client_proxy.endpoint_url)
    assert result.status == "filed"
    # (An answer with no body cannot be cut short: a truncated PUT answer may still arrive whole.)
    assert all(rule.hits >= 1 for rule in client_rules), [(r.pattern.pattern, r.hits) for r in client_rules]
    assert sum(rule.hits for rule in filer_rules) >= len(FILER_TARGETS) - 1
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)
    assert queue_depth(stack, stack.client("sqs"), stack.dead_letter_queue_url) == 0


def test_slowdown_storm_on_everything_is_ridden_out(tmp_path, stack, s3, client_proxy, filer_proxy,
                                                      make_filer, running_worker):
    """Every third request of both sides answered 503 SlowDown for the whole run."""
    make_filer(filer_proxy.endpoint_url)
    storms = [proxy.inject("503", r".", times=None, when=_every(3)) for proxy in (client_proxy, filer_proxy)]
    folder = make_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", endpoint_url=client_proxy.endpoint_url)
    assert result.status == "filed"
    assert all(storm.hits >= 2 for storm in storms)
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def _every(n: int):
    count = {"n": 0}

    def when(_line: str) -> bool:
        count["n"] += 1
        return count["n"] % n == 0

    return when


def test_client_out_of_retries_reports_and_resumes(tmp_path, stack, s3, client_proxy, make_filer,
                                                   running_worker):
    make_filer()
    folder = make_project(tmp_path)
    outage = client_proxy.inject("503", rf"^PUT /{STAGING}/incoming/.*/packs/", times=None, skip=1)
    with pytest.raises(UploadFailedError) as failed:
        backup(tmp_path, stack, folder, "P1", endpoint_url=client_proxy.endpoint_url)
    message = str(failed.value)
    assert message.startswith("Failed to upload artifacts to S3")
    assert "SlowDown" in message
    assert outage.hits >= 6  # botocore's standard mode: six attempts per request
    # Nothing was committed, so nothing was filed; the pieces already sent wait for the resume.
    assert list_keys(s3, ARCHIVE) == []
    client_proxy.clear()
    result = backup(tmp_path, stack, folder, "P1", endpoint_url=client_proxy.endpoint_url)
    assert result.status == "filed"
    assert result.resumed
    assert result.pieces_skipped >= 2
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def test_filer_out_of_retries_fails_the_record_then_dead_letters(tmp_path, stack, s3, filer_proxy,
                                                                 make_filer, worker):
    make_filer(filer_proxy.endpoint_url)
    folder = make_project(tmp_path)
    result = backup(tmp_path, stack, folder, "P1", wait=False)
    outage = filer_proxy.inject("500", rf"^PUT /{ARCHIVE}/P1/logs/", times=None)
    sqs = stack.client("sqs")
    drained = drain(worker)
    # Each delivery failed (no receipt: it is transient) until the queue gave up on the message.
    # (The one other message is S3's test event, sent when the notification was configured.)
    assert drained.failed == stack.names.max_receive_count
    assert outage.hits >= 8 * stack.names.max_receive_count  # the filer's eight attempts per request
    assert queue_depth(stack, sqs, stack.dead_letter_queue_url) == 1
    # Nothing lost: the run is whole in staging, no run record was written, no receipt claims it.
    staged = list_keys(s3, STAGING, staging_run_prefix("P1", result.run_id))
    assert manifest_key("P1", result.run_id) in staged
    assert len(staged) == result.pieces + 1
    assert run_record_key("P1", TS, result.run_id) not in list_keys(s3, ARCHIVE)
    assert list_keys(s3, STAGING, "receipts/") == []
    # Once S3 recovers, redriving the dead letter files the run.
    filer_proxy.clear()
    moved = sqs.receive_message(QueueUrl=stack.dead_letter_queue_url, MaxNumberOfMessages=10)["Messages"]
    for message in moved:
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=stack.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
    drain(worker)
    assert_filed_once(s3, stack, folder, "P1", TS, result.run_id)


def test_a_body_cut_short_by_its_client_is_never_stored(stack, s3, client_proxy):
    """A client killed mid-body leaves S3 nothing (it refuses a body shorter than declared); the
    proxy must not hand the embedded server the part that came, which it would store whole."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(client_proxy.endpoint_url)
    key = "incoming/P1/0123456789abcdef0123456789abcdef/packs/cut.tar.gz"
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(f"PUT /rmi-360-raw-staging/{key} HTTP/1.1\r\nHost: {where.netloc}\r\n"
                     "Content-Length: 1000\r\n\r\n".encode() + b"x" * 100)
        sock.shutdown(socket.SHUT_WR)  # the client is gone, 900 bytes short
        assert sock.recv(1024) == b""  # dropped, never answered
    assert [e.outcome for e in client_proxy.exchanges] == ["incomplete"]
    assert list_keys(s3, "rmi-360-raw-staging", "incoming/P1/") == []
