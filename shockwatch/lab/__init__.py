"""The lab: demos, benchmarks, stand-ins (Slack, the providers' fixture server) and worked
examples. Only the lab itself and the tests import it."""
