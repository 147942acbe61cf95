"""Entry point for ``cdk synth``/``cdk deploy``: read the context, build the stack, check it."""

from __future__ import annotations

from aws_cdk import App, Aspects
from cdk_nag import AwsSolutionsChecks

from .settings import Settings
from .stack import build


def main() -> App:
    app = App()
    settings = Settings.from_context(app)
    build(app, settings)
    # Every synth runs the AwsSolutions rules, so a new finding fails `cdk synth` as well as the tests.
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
    return app


if __name__ == "__main__":
    main()
