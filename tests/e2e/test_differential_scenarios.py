"""Differential scenarios: each scenario of tests/differential/scenarios.py
runs with the real git, through the shim in a lone session (GITLANE_SESSION
set, no peer), and through the shim without a session; everything a user sees
must match (tests/differential/README.md, "Scenario harness"). Runs in the
default suite (scenarios.EXTENDED only with `-m slow`); the scenarios selected run up front on a small thread pool
(each one is a few git processes), then each test compares its outcomes."""
from __future__ import annotations

import concurrent.futures
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "differential"))
import harness  # noqa: E402
from scenarios import EXTENDED, SCENARIOS  # noqa: E402

from gitlane.testing import hermetic  # noqa: E402
from gitlane.testing.lane import SHIM  # noqa: E402

MODES = ("real", "session", "plain")   # plain: the shim without a session
WORKERS = 4


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, concurrent.futures.Future]]:
    home = tmp_path_factory.mktemp("scen-home")
    env = hermetic.env(str(home), {k: v for k, v in os.environ.items() if k not in hermetic.KEEP})
    seed = harness.build_seed(tmp_path_factory.mktemp("scen-seed"), env)
    runs = tmp_path_factory.mktemp("scen-runs")
    wanted = {item.callspec.params["sc"].name for item in request.session.items
              if getattr(item, "callspec", None) is not None and "sc" in item.callspec.params
              and item.get_closest_marker("skip") is None}
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = {sc.name: pool.submit(harness.run_scenario, sc, MODES, seed,
                                        Path(tempfile.mkdtemp(dir=runs)), env, SHIM)
                   for sc in SCENARIOS if sc.name in wanted}
        yield futures


def test_the_table_is_large_and_names_are_unique() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) >= 150
    assert len(set(names)) == len(names)
    assert all(not (s.differs and s.xfail) for s in SCENARIOS)
    assert EXTENDED <= set(names)
    assert len(names) - len(EXTENDED) >= 150      # the default run alone covers 150


def params():  # type: ignore[no-untyped-def]
    for s in SCENARIOS:
        marks = [pytest.mark.xfail(strict=True, reason=s.xfail)] if s.xfail else []
        if s.name in EXTENDED:
            marks.append(pytest.mark.slow)
        yield pytest.param(s, id=s.name, marks=marks)


@pytest.mark.parametrize("sc", list(params()))
def test_scenario(sc: harness.Scenario, outcomes: dict[str, concurrent.futures.Future]) -> None:
    out = outcomes[sc.name].result()
    real = out["real"].lines()
    assert out["plain"].lines() == real, "without a session the shim must be byte-identical to git"
    if sc.differs:
        pytest.skip(f"differs on purpose: {sc.differs}")
    assert out["session"].lines() == real
