"""Match-quality benchmark on real art: `python -m bench.accuracy`."""
