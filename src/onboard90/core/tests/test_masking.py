"""Masking of numbers and names in lists and exports (脱敏)."""

from hypothesis import given
from hypothesis import strategies as st

from onboard90.core.masking import mask_msisdn, mask_name


def test_mobile_number_keeps_the_prefix_and_the_last_four():
    assert mask_msisdn("18612341234") == "186****1234"


def test_name_keeps_the_family_name_only():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("") == ""


@given(st.text(alphabet="0123456789", min_size=0, max_size=20))
def test_a_masked_number_never_shows_the_middle_digits(number):
    masked = mask_msisdn(number)
    assert len(masked) == len(number)
    hidden = number[3:-4] if len(number) == 11 else number[:-4]
    assert "*" * len(hidden) in masked or not hidden


@given(st.text(min_size=2, max_size=10).filter(lambda s: s.strip() == s and len(s) >= 2))
def test_a_masked_name_shows_only_its_first_character(name):
    masked = mask_name(name)
    assert masked[0] == name[0] and set(masked[1:]) == {"*"}
