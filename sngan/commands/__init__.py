"""The CLI's commands besides `train`: sample, eval, fetch, bench (and --throughput), report (and plots)."""
