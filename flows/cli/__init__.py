"""The `automl` command: typer commands, one module per command group."""
