"""Reports and dashboards (a later issue)."""
