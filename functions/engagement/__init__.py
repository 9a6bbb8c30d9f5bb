"""Engagement scoring: one runtime package shared by every Lambda function.

Layout: ``topology`` declares the system; ``domain`` holds pure logic with an injected clock;
``store`` is the only place that talks to DynamoDB; ``api`` holds HTTP plumbing shared by the
routes; ``handlers`` are thin Lambda entry points, one module per function.
"""
