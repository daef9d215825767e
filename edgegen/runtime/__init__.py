"""Running exported (or torch) components: backends behind one protocol, the generation
pipeline, image generation with provenance, and batched classification."""
