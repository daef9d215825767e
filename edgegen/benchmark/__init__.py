"""`edgegen bench`: legs run side by side (each in its own process), measured for latency,
memory, energy, quality and cost, reported as JSON, Markdown and HTML."""
