#!/usr/bin/env python
"""Generator updates/s and images/s per arch/dataset with each speed option off and on.

Same as `sngan bench --throughput`; see sngan/commands/throughput.py. Example (CPU, tiny):
  python scripts/bench_throughput.py --pairs dcgan:digits --steps 10 --warmup 2 --batch-size 32
"""
import sys

from sngan.errors import UserError
from sngan.commands.throughput import throughput

if __name__ == "__main__":
    try:
        throughput(sys.argv[1:])
    except UserError as e:
        print(f"bench_throughput: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
