"""Pure numpy maths of the metrics: arrays in, numbers out (no torch, no files)."""
