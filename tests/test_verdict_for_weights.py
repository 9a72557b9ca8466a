"""The suite's ``verdict_for_weights`` fixture: a test whose effect was measured absent with the session's tiny CLIP
weights is a strict xfail, one measured present is a plain test, and weights never measured take the default.

Each case runs a small test file in a child pytest session that loads the suite's own conftest, with the
weights' sha256 prefix fixed (``tiny_clip_sha`` overridden), and reads the outcome pytest reports."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")

CASES = '''
import pytest


@pytest.fixture(scope="session")
def tiny_clip_sha():
    return "abcd1234"


@pytest.mark.parametrize("holds", [True, False])
def test_measured_absent_with_these_weights(verdict_for_weights, holds):
    verdict_for_weights({"abcd1234": "figures of the absent effect"}, None)
    assert holds


@pytest.mark.parametrize("holds", [True, False])
def test_measured_present_with_these_weights(verdict_for_weights, holds):
    verdict_for_weights({"abcd1234": None}, "absent on the other machines")
    assert holds


@pytest.mark.parametrize("holds", [True, False])
def test_weights_never_measured_take_the_default_absent(verdict_for_weights, holds):
    verdict_for_weights({"ffff0000": None}, "absent on the other machines")
    assert holds


@pytest.mark.parametrize("holds", [True, False])
def test_weights_never_measured_take_the_default_present(verdict_for_weights, holds):
    verdict_for_weights({"ffff0000": "absent there"}, None)
    assert holds
'''


def test_each_verdict_is_strict_both_ways(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rxXf", "--import-mode=importlib")
    outcomes = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call":
            outcomes[report.nodeid.split("::", 1)[1]] = (report.outcome, hasattr(report, "wasxfail"))
    # (outcome, reported as an xfail)
    assert outcomes == {
        # measured absent: a pass is an unexpected pass (strict: failed), a failure an xfail
        "test_measured_absent_with_these_weights[True]": ("failed", False),
        "test_measured_absent_with_these_weights[False]": ("skipped", True),
        # measured present: a plain test, whatever the other machines' default says
        "test_measured_present_with_these_weights[True]": ("passed", False),
        "test_measured_present_with_these_weights[False]": ("failed", False),
        # never measured: the default verdict
        "test_weights_never_measured_take_the_default_absent[True]": ("failed", False),
        "test_weights_never_measured_take_the_default_absent[False]": ("skipped", True),
        "test_weights_never_measured_take_the_default_present[True]": ("passed", False),
        "test_weights_never_measured_take_the_default_present[False]": ("failed", False),
    }, result.stdout.str()
    assert "with tiny CLIP abcd1234: figures of the absent effect" in result.stdout.str()
