"""SD-family model presets, local diffusers folders, and how a MODEL argument is resolved."""
