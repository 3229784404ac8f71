"""Running as a service: deployments, the data watcher, the temporary Prefect server."""
