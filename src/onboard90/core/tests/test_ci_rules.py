"""The suite's own rules (root conftest.py): `postgres` tests need PostgreSQL; under CI nothing may skip."""

from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[4] / "conftest.py"

SAMPLE = '''
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no gateway here")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
'''


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(ROOT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_sample=SAMPLE)
    return pytester


def test_outside_ci_a_skip_is_reported_but_the_run_passes(sample, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = sample.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == 0


def test_in_ci_any_skip_fails_the_run_and_names_the_test(sample, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = sample.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*SKIPPED (not allowed in CI): test_sample.py::test_skips*no gateway here*"])


def test_in_ci_a_clean_run_passes(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(ROOT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider")
    assert result.ret == 0
