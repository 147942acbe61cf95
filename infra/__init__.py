"""The AWS CDK app that stands up the artifact-backup backend: staging, archive, queue, filer, access."""
