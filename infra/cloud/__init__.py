"""The CDK app: builds the cloud stacks from engagement.topology."""
