"""The controller's runtime: scheduling, one pipeline's reconciliation, refreshes and the main loop.

schedule.py     when each warehouse is next discovered (jittered intervals, backoff on errors)
autopromote.py  which freight a stage with ``autoPromotion`` takes next, and when to look again (pure)
verify.py       the narrow hook to the verification runners in ``freightyard.shared.verification``
refresh.py      telling Argo CD after a promotion (ApplicationSet refresh, hard refresh of CMP Apps)
reconcile.py    one pass over one pipeline: discover, add freight, verify, auto-promote
loop.py         the long-running loop: pipelines, workers, webhooks' triggers, leadership
"""
