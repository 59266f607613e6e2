"""The verification machinery, apart from the mathematics: Hypothesis strategies and profiles, the
float64-vs-mpmath comparison, the runner that turns a claim into a record, the populations of given models
(the trained fixture, a user's model), the reports and their figures, the regression check, the regime sweep,
``explain`` and the ``attnverify`` command line (with the user's-model path: ``import``, ``run --model``)."""
