"""The examples in local/aws's docstrings hold."""

from __future__ import annotations

import doctest

import pytest

import local.aws.engine
import local.aws.observed


@pytest.mark.parametrize("module", [local.aws.engine, local.aws.observed])
def test_the_docstring_examples_of_the_suite_modules_hold(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
