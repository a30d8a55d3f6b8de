"""Task functions of the `payment-dual-run` wave kind (see docs/waves/payment-dual-run.md)."""
