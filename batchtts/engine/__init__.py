"""The engine: plan a run, triage every billable unit, dispatch requests per model group, report."""
