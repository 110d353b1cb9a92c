"""Incus access: the REST client, its transports, events, names."""
