"""The embedded AWS: deploy `cdk.out` into moto, run waves with in-process tasks, a local Slack.

Start at `wavectl.local.engine.LocalCloud` (its docstring lists the interface other code relies on),
`wavectl.local.runner` (start / watch / collect a wave execution) and `docs/local-mode.md`.
"""
