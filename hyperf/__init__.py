"""hyperf: performance profiling and scaling analysis for the Hyena operator."""

__version__ = "0.1.0"
