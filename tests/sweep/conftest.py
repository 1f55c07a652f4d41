from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

from hyperf import registry

HERE = Path(__file__).parent


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def plugin_env(monkeypatch):
    """tests/sweep/plugin_backends.py (crashing, sleeping, wrong, model-less and self-checked
    backends), registered here
    and, through HYPERF_PLUGINS, in every worker the sweep starts."""
    monkeypatch.setenv("HYPERF_PLUGINS", "plugin_backends")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(HERE))
    importlib.import_module("plugin_backends")
    yield
    # Leave no crashing backend behind for later tests that walk the registry.
    for name in registry.names():
        if registry.get(name).fn.__module__ == "plugin_backends":
            registry.remove(name)
    sys.modules.pop("plugin_backends", None)
