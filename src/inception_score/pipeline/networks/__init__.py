"""Feature extractors beyond the 2015 Inception network: DINOv2 (FD_DINOv2) and CLIP (CMMD, FD_CLIP).

Each module holds one architecture in plain torch, its preprocessing protocols, and its
published weights as data (`PublishedWeights`), so that the engine's registry can take them.
"""
