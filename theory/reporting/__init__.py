"""Reporting: ``REPORT.md`` and ``summary.json`` of a run, the user's-model report, the comparison of a run with a
committed baseline (``attnverify compare``) and the claim catalogue (``attnverify list``)."""
