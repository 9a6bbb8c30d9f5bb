"""HTTP plumbing shared by the API routes: resolver, errors, authentication, models."""
