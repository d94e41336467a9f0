"""The manifest stage: YAML or CSV text in, checked `JobSpec`s (and a `BookSpec`) out, every issue located."""
