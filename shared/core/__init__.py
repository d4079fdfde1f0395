"""The pure model: pipeline schema and validation, freight identity, eligibility, state document, parameters.

No I/O here (import-linter holds it): no subprocess, network, Kubernetes or Flask."""
