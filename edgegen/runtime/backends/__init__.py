"""One module per inference backend, each a `Runner` over one component graph."""
