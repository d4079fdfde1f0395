"""Warehouse sources: adapters that list artifacts from git, OCI registries/layouts and chart repos."""
