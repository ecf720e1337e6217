"""Training data: image datasets (images), 2-D mixtures (points), resumable batch streams (batches), and
the named random streams every resumable draw comes from (streams)."""
