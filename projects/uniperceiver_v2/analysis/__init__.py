"""Analysis tools behind ``tools/analysis/``: FLOPs per task, parameters per component, and
per-task inference / training throughput.  Each module has a ``main(argv)``."""
