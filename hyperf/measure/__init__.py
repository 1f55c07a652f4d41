"""Measurement: timing (``timing``), the correctness gate (``correctness``), FLOP and byte
models (``flops``), memory (``memory``) and device ceilings (``ceilings``); the statistics of
what they measure live in ``hyperf.stats``. Each hands the next stage plain data."""
