"""The payment bridge's pipeline: parse payment extracts (CSV, JSON Lines, ISO 20022 pain.001), validate
and enrich each record, write canonical chunks with manifests, quarantine what cannot go on.

`tasks.payments.pipeline.process` is the one code path: the inbound Lambda (`tasks.payments.ingest`) and
`wavectl bridge` both call it. Amounts are `decimal.Decimal` or integer minor units, never floats.
"""

BRIDGE_VERSION = "1.0.0"
