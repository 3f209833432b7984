"""Zegel's shared package: configuration, database, domain model, services and integrations."""
