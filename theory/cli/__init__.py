"""The ``attnverify`` command line: ``list``, ``run``, ``explain``, ``import``, ``compare``; the options that name a
user's model and texts.  The top layer: nothing imports it."""
