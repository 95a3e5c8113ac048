#!/usr/bin/env python3
"""Scripted OpenAI-compatible provider on 127.0.0.1 (TEST EQUIPMENT); see --help."""
from sweboard.testbench.provider import main

raise SystemExit(main())
