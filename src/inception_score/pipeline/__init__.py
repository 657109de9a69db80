"""Images to features: sources, decoding, resizing, networks and their registry, weights, cache, statistics."""
