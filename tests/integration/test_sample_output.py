"""The README's ``make demo`` sample output is a real run's (local/sample_output.py): the check
passes on a current block, fails on a stale one or a README without the markers, and the
block is the same from run to run."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from local import sample_output
from local.sample_output import END, README, START, block, main, run_demo


@pytest.fixture(autouse=True)
def as_users_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo as users run it: no read lag, also in a suite run under one."""
    monkeypatch.delenv("EMBEDDED_EC2_READ_LAG", raising=False)
    monkeypatch.setenv("VISIBLE_WITHIN_SECONDS", "0")


@pytest.fixture(scope="module")
def demo_output() -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("EMBEDDED_EC2_READ_LAG", raising=False)
        patch.setenv("VISIBLE_WITHIN_SECONDS", "0")
        return run_demo()


def readme(tmp_path: Path, middle: str = "\nold sample\n") -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\nintro\n\n{START}{middle}{END}\n\n## Next\nmore\n")
    return path


def test_the_examples_in_the_docstrings_run() -> None:
    assert doctest.testmod(sample_output).failed == 0


def test_write_fills_the_block_and_check_then_passes(
    tmp_path: Path, demo_output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = readme(tmp_path)
    assert main(["--check"], readme=path, demo=lambda: demo_output) == 1
    assert main(["--write"], readme=path, demo=lambda: demo_output) == 0
    text = path.read_text()
    assert text.startswith("# Title\n\nintro\n\n" + START) and text.endswith(
        END + "\n\n## Next\nmore\n"
    )
    assert "old sample" not in text
    assert main(["--check"], readme=path, demo=lambda: demo_output) == 0
    assert "matches a fresh run" in capsys.readouterr().out


def test_the_block_shows_the_lifecycle_the_sweep_and_tms_audit_briefly(demo_output: str) -> None:
    shown = block(demo_output)
    lines = shown.splitlines()
    assert len(lines) <= 40  # the README is a landing page
    assert sum(line.startswith("ok  ") for line in lines) == 11
    assert "sweep: field drift" in shown and "-> restored" in shown and "-> reported" in shown
    assert "$ tms-audit" in shown and "orphaned  tms-" in shown and "(exit status 1)" in shown
    assert lines[-2].startswith("All 11 steps behaved as CloudFormation expects")
    assert " ms" not in shown and "Stack outputs" not in shown  # timings vary; outputs are long
    assert "tms-00000000000000001" in shown and "VNI=1000001" in shown  # normalized


def test_two_runs_give_the_same_block(demo_output: str) -> None:
    assert block(run_demo()) == block(demo_output)


def test_a_stale_block_fails_the_check_naming_the_line(
    tmp_path: Path, demo_output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = block(demo_output)
    path = readme(tmp_path, fresh.replace("Real deploy", "Real deployment"))
    assert main(["--check"], readme=path, demo=lambda: demo_output) == 1
    err = capsys.readouterr().err
    assert "differs from a fresh run at line" in err and "Real deployment" in err
    assert "python -m local.sample_output --write" in err


def test_a_readme_without_the_markers_fails_with_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n{START}\nno end marker\n")

    def never() -> str:
        raise AssertionError("the demo ran for a README it cannot update")

    for mode in ("--check", "--write"):
        assert main([mode], readme=path, demo=never) == 1
    err = capsys.readouterr().err
    assert f"README.md has no sample-output block: missing {END}" in err
    assert path.read_text() == f"# Title\n{START}\nno end marker\n"


def test_a_failed_demo_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = readme(tmp_path)

    def failed() -> str:
        raise sample_output.DemoFailed("make demo failed (exit 1):\nDEMO FAILED")

    assert main(["--write"], readme=path, demo=failed) == 2
    assert "old sample" in path.read_text() and "DEMO FAILED" in capsys.readouterr().err


@pytest.mark.skipif(
    START not in README.read_text() and END not in README.read_text(),
    reason="README.md has no sample-output markers yet (they come with the README rewrite)",
)
def test_the_readme_sample_output_is_a_fresh_runs(demo_output: str) -> None:
    """Fails when README.md's block is stale: run `python -m local.sample_output --write`."""
    assert main(["--check"], demo=lambda: demo_output) == 0
