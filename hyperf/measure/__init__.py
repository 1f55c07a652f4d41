"""Measurement: timing (``timing``), statistics (``stats``), the correctness gate
(``correctness``), FLOP and byte models (``flops``), memory (``memory``) and device ceilings
(``ceilings``). Each hands the next stage plain data."""
