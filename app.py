#!/usr/bin/env python3
"""CDK entry point (`cdk synth` / `cdk deploy`): load and validate the runbooks, build the stacks."""

from wavectl.paths import configure_jsii_node

configure_jsii_node()

from aws_cdk import App  # noqa: E402  (jsii must see the Node choice first)

from stacks.app import build_app  # noqa: E402
from wavectl.runbook import load_runbook  # noqa: E402

app = App()
build_app(app, load_runbook(app.node.try_get_context("wavectl:runbooks") or "runbooks"))
app.synth()
