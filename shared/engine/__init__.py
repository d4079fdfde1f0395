"""Orchestrators: discovery, promotion and no-op detection, driving the adapters (sources, stores, mechanisms, render)
with the pure model."""
