"""Verifying a stage after a promotion: Argo CD Application sync/health (DESIGN §5), command checks
and HTTP checks; ``runner.verify`` runs them and records the outcome in the pipeline's state."""
