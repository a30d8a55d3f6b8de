"""Slack approval gates: request (waitForTaskToken), callback (Slack + CLI), reminders, evidence."""
