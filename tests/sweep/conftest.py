from __future__ import annotations

import importlib
import os
import textwrap
from pathlib import Path

import pytest

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
    """tests/sweep/plugin_backends.py (a crashing and a sleeping backend), registered here
    and, through HYPERF_PLUGINS, in every worker the sweep starts."""
    monkeypatch.setenv("HYPERF_PLUGINS", "plugin_backends")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(HERE))
    importlib.import_module("plugin_backends")
