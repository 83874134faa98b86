"""``tms-audit``: the operator's view of drifted and orphaned traffic mirror sessions."""
