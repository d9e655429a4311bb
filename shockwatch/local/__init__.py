"""Local infrastructure: the Kafka broker (plain or secured), Prometheus and Alertmanager, the
live launcher and the status view of its jobs."""
