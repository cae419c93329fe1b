"""The domain: models, services and policy. Knows nothing of GraphQL or HTTP."""
