"""Without Chromium the browser tests say so: a skip with the reason on a workstation, a failure in CI."""

from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[5] / "conftest.py"

SAMPLE = '''
import pytest

@pytest.mark.browser
def test_in_a_browser():
    pass
'''


@pytest.fixture
def without_chromium(pytester: pytest.Pytester, monkeypatch) -> pytest.Pytester:
    pytester.makeconftest(ROOT_CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    browser: drives Chromium\n")
    pytester.makepyfile(test_sample=SAMPLE)
    monkeypatch.setenv("ONBOARD90_CHROMIUM", str(pytester.path / "no-chromium-here"))
    return pytester


def test_outside_ci_a_browser_test_skips_with_the_reason(without_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = without_chromium.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs Chromium at *no-chromium-here*ONBOARD90_CHROMIUM*"])


def test_in_ci_a_browser_test_without_chromium_fails_with_the_reason(without_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = without_chromium.runpytest_subprocess("-p", "no:django", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*browser test in CI: needs Chromium at *no-chromium-here*"])
