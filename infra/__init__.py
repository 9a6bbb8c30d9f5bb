"""Everything that is not Lambda runtime code: the CDK app and the local runner."""
