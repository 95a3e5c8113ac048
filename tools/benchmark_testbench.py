#!/usr/bin/env python3
"""Time the offline test bench: image builds (cold, cached), per-task builds, evaluation overhead."""
from sweboard.testbench.benchmark import main

raise SystemExit(main())
