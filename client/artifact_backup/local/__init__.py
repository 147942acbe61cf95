"""The local stack: the embedded S3 server, the resources the CDK stack creates, and a worker that
runs the filer on the queue's events, so the whole pipeline runs on one machine with no AWS account.
"""

from .backends import BACKEND_ENV, BACKENDS, backend_from_environment, embedded_server
from .server import LOCAL_CREDENTIALS, LOCAL_REGION, EmbeddedServer, LocalS3Server, MotoServer
from .session import LocalSession
from .stack import LocalStack, LocalStackNames, provision
from .worker import BatchOutcome, LambdaContext, LocalFilerWorker, load_filer_handler, sqs_batch_event

__all__ = [
    "BACKEND_ENV",
    "BACKENDS",
    "EmbeddedServer",
    "MotoServer",
    "backend_from_environment",
    "embedded_server",
    "sqs_batch_event",
    "LOCAL_CREDENTIALS",
    "LOCAL_REGION",
    "BatchOutcome",
    "LambdaContext",
    "LocalFilerWorker",
    "LocalS3Server",
    "LocalSession",
    "LocalStack",
    "LocalStackNames",
    "load_filer_handler",
    "provision",
]
