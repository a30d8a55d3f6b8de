"""Wave kind `db-snapshot-copy`: cross-account RDS instance and Aurora cluster copy.

Source snapshot -> copy under the shared key (cross-region here, in the source account) -> share
with the target account -> copy under the target-owned key in the target -> restore -> verify.
`handler.py` is the Lambda entry (one function per task); the other modules hold the logic and
the boto3 adapters, which take sessions so tests run them against moto.
"""
