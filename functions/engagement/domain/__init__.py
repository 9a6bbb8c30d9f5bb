"""Pure domain logic: no boto3, no environment, time comes from a clock."""
