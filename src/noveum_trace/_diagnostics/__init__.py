"""Diagnostics: internal-error guard and counters. The bottom layer: imports nothing of ours."""
