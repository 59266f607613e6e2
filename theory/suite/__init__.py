"""The verification machinery, apart from the mathematics: Hypothesis strategies and profiles, the
float64-vs-mpmath comparison, the runner that turns a claim into a record, the reports and their figures, the
regression check, the regime sweep, ``explain`` and the ``attnverify`` command line."""
