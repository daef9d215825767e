"""The `edgegen` command line: thin typer commands over library functions."""
