"""Quality of synthetic CXRs, always beside the real-vs-real floor: features (the CXR feature
network), distances (KID, FID, PRDC), detectability, memorization, diversity, conditioning
fidelity, and the report pieces (grids, nearest-neighbour pairs). Used by `edgegen quality`,
`edgegen bench`, `edgegen study` and the reader study."""
