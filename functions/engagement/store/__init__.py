"""The DynamoDB adapter and the item layouts it reads and writes."""
