"""The faust app: contracts (records, topics), detection core, agents."""
