"""The least-privilege recorder names each call by the IAM action that authorises it."""

from __future__ import annotations

import boto3
import pytest

from wavectl.local.calls import action_of, iam_action


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("cloudwatch", "GetMetricData", "cloudwatch:GetMetricData"),  # signs as "monitoring"
        ("resourcegroupstaggingapi", "GetResources", "tag:GetResources"),  # signs as "tagging"
        ("elbv2", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers"),
        ("s3", "HeadObject", "s3:GetObject"),
        ("rds", "DescribeDBClusters", "rds:DescribeDBClusters"),
    ],
)
def test_recorded_call_is_named_by_the_iam_action_that_authorises_it(service, operation, action):
    # Given a client of the service / When a call of the operation is named
    client = boto3.client(service, region_name="eu-west-1")
    # Then the name is the one IAM policies grant, not the service's signing name
    assert action_of(client, operation) == action


def test_recordings_made_with_signing_names_read_as_iam_actions():
    # Given an action recorded before the recorder knew IAM's prefixes / Then it reads as IAM's name
    assert iam_action("monitoring:DescribeAlarms") == "cloudwatch:DescribeAlarms"
    assert iam_action("tagging:GetResources") == "tag:GetResources"
