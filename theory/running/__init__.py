"""Running: the runner that turns a claim into a record, the parallel and distributed execution, the run on a
given model's population, the output folder (atomic writes, the lock, Ctrl-C)."""
