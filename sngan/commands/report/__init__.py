"""`sngan report`: tables and the paper's figures from finished run folders.

  report.py  the command: report.md (norm x setting tables, ranking) and report.csv
  plots.py   the paper's figures as PNGs
  reader.py  run folders read back (config, scalars, metrics and their protocols, spectra); only these two read it
"""
