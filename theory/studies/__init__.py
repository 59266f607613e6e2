"""Studies: what the suite measures beyond one instance of one claim — the regime map of LIME's approximations,
agreement and faithfulness of the explainers, the survival table across depth, the user's model's figures —
and the figure helper they draw with.  Above the claims (a study may run a claim's check), below the runner."""
