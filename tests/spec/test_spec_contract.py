"""The real specs pass every check of tools/spec_check.py (DESIGN.md §1)."""

from __future__ import annotations

import pytest

from tools.contract import REPO, Specs
from tools.spec_check import CHECKS


@pytest.mark.parametrize("title", list(CHECKS))
def test_real_specs(title: str) -> None:
    problems = CHECKS[title](Specs(REPO))
    assert not problems, f"{title}:\n" + "\n".join(f"  - {p}" for p in problems)
