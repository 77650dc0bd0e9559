"""Running `saleor-automation` from the tests: in this process (typer's runner) or as the operator does, in a
process of its own. What it prints is observed for known secrets (tests/secret_watch.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.secret_watch import observe
from tests.timing import scaled

# A process of its own sees only these of the test's environment, then what the test gives: no setting of the
# developer's shell (or a .env) decides a test's outcome.
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "SYSTEMROOT")


def invoke(args: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: str | None = None) -> Any:
    """The CLI in this process: its result (`exit_code`, `stdout`, `stderr`, `output`)."""
    from saleor_app.cli import cli

    result = CliRunner().invoke(cli, list(args), env=dict(env or {}), input=stdin)
    observe(f"the output of `saleor-automation {' '.join(args[:2])}`", result.output)
    return result


def run_cli(args: Sequence[str], *, env: Mapping[str, str], cwd: Path,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, started in `cwd` with only `env` (and PATH, HOME…) set."""
    environment = {name: os.environ[name] for name in PASSED_ON if name in os.environ} | dict(env)
    done = subprocess.run([sys.executable, "-m", "saleor_app.cli", *args], env=environment, cwd=cwd,
                          capture_output=True, text=True, timeout=scaled(timeout), check=False)
    observe(f"the output of `saleor-automation {' '.join(args[:2])}`", done.stdout + done.stderr)
    return done
