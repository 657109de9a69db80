"""Pure numpy maths: no torch, no files."""
