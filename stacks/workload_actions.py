"""The IAM actions wavectl's tasks call through the roles they assume in other accounts: what the source
and target role stacks grant (stacks/cross_account.py).

SOURCE and TARGET are the actions recorded through `accounts.source.role` and `accounts.target.role` by
the embedded runs (wavectl/local/calls.py), printed by `python -m tests.workflows.least_privilege_support
CALLS_DIR` from a folder of recordings (`*.roles`: each pytest-xdist worker of `make test` leaves one).
This version comes from a `pytest -n 2 tests/workflows tests/cli` run (every wave's flows: happy,
rejection, failure and compensation paths, chaos) and a rehearsal of all four waves, plus the RDS
instance (not cluster) snapshot and restore calls of the two 50-database runs of `make test`.
`make test` makes the same comparison on every run: a call through a role that its list lacks fails
the run, and so does (once every wave's flows ran) an action no task called (tests/conftest.py,
tests/workflows/test_least_privilege.py).
"""

from __future__ import annotations

SOURCE: tuple[str, ...] = (
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "dynamodb:DeleteTable",
    "dynamodb:DescribeTable",
    "dynamodb:ListTagsOfResource",
    "dynamodb:UpdateTable",
    "ec2:DescribeInstances",
    "ec2:ModifyInstanceAttribute",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ec2:TerminateInstances",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "lambda:DeleteFunction",
    "lambda:DeleteFunctionConcurrency",
    "lambda:GetFunction",
    "lambda:GetFunctionConcurrency",
    "lambda:ListTags",
    "lambda:PutFunctionConcurrency",
    "rds-data:ExecuteStatement",
    "rds:CopyDBClusterSnapshot",
    "rds:CopyDBSnapshot",
    "rds:CreateDBClusterSnapshot",
    "rds:CreateDBSnapshot",
    "rds:DeleteDBCluster",
    "rds:DeleteDBClusterSnapshot",
    "rds:DeleteDBInstance",
    "rds:DeleteDBSnapshot",
    "rds:DescribeDBClusterSnapshotAttributes",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeDBSnapshotAttributes",
    "rds:DescribeDBSnapshots",
    "rds:ModifyDBClusterSnapshotAttribute",
    "rds:ModifyDBSnapshotAttribute",
    "rds:StartDBCluster",
    "rds:StopDBCluster",
    "route53:ChangeResourceRecordSets",
    "route53:GetChange",
    "route53:GetHealthCheckStatus",
    "route53:ListHostedZonesByName",
    "route53:ListResourceRecordSets",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObject",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:GetBucketTagging",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:PutBucketPolicy",
    "tag:GetResources",
)
TARGET: tuple[str, ...] = (
    "ec2:DescribeSecurityGroups",
    "kms:DescribeKey",
    "rds-data:ExecuteStatement",
    "rds:AddTagsToResource",
    "rds:CopyDBClusterSnapshot",
    "rds:CopyDBSnapshot",
    "rds:CreateDBInstance",
    "rds:DeleteDBCluster",
    "rds:DeleteDBClusterSnapshot",
    "rds:DeleteDBInstance",
    "rds:DeleteDBSnapshot",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeDBSnapshots",
    "rds:DescribeDBSubnetGroups",
    "rds:EnableHttpEndpoint",
    "rds:ModifyDBCluster",
    "rds:ModifyDBInstance",
    "rds:RestoreDBClusterFromSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "route53:ListHostedZonesByName",
    "s3:GetObject",
    "s3:GetObjectLockConfiguration",
    "s3:ListBucket",
    "s3:PutObject",
)


def for_role(role_arn: str, *, source: str, target: str) -> list[str]:
    """The actions of the role `role_arn` assumed by the tasks. A retention account's role other than the
    target role plays the target's part (receives the final snapshots and data): it gets TARGET."""
    actions: set[str] = set()
    if role_arn == source:
        actions |= set(SOURCE)
    if role_arn == target or role_arn != source:
        actions |= set(TARGET)
    return sorted(actions)
