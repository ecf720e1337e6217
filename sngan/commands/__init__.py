"""The CLI's commands besides `train`: the user's sample, eval and fetch, and two subpackages by job:
bench/ (`sngan bench` and its modes) and report/ (`sngan report`: tables, figures, the run reader)."""
