"""The shipped organisation: 17 Shandong city branches of 2012, their units, and how people name them."""

import pytest

from onboard90.core.models import AuditEntry
from onboard90.org.enums import UnitKind
from onboard90.org.models import City, Unit
from onboard90.org.selectors import city_lookup, units_of
from onboard90.org.services import reference_data_install

pytestmark = pytest.mark.django_db

AREA_CODES = {
    "jinan": "0531", "qingdao": "0532", "zibo": "0533", "zaozhuang": "0632", "dongying": "0546",
    "yantai": "0535", "weifang": "0536", "jining": "0537", "taian": "0538", "weihai": "0631",
    "rizhao": "0633", "laiwu": "0634", "linyi": "0539", "dezhou": "0534", "liaocheng": "0635",
    "binzhou": "0543", "heze": "0530",
}  # fmt: skip


@pytest.fixture
def installed():
    return reference_data_install()


def test_install_creates_the_17_cities_of_2012_with_their_area_codes(installed):
    assert installed["cities"]["created"] == 17
    assert dict(City.objects.values_list("code", "area_code")) == AREA_CODES
    assert City.objects.get(code="laiwu").name == "莱芜"
    assert City.objects.get(area_code="0531").name_en == "Jinan"


def test_laiwu_is_the_smallest_branch_and_the_big_ones_outweigh_the_small(installed):
    weights = dict(City.objects.values_list("code", "weight"))
    assert min(weights, key=weights.get) == "laiwu"
    for big in ["jinan", "qingdao", "linyi", "weifang", "yantai", "jining", "heze"]:
        assert weights[big] > weights["dongying"] > weights["laiwu"]


def test_every_city_has_all_four_unit_kinds_and_exactly_one_main_store(installed):
    for city in City.objects.all():
        kinds = set(city.units.values_list("kind", flat=True))
        assert kinds == set(UnitKind.values), city.code
        main = city.units.get(is_main=True)
        assert main.kind == UnitKind.STORE
        assert main.code == f"{city.code}-store-1"
        assert main.name.startswith(city.name) and main.name.endswith("营业厅")
        assert city.units.get(kind=UnitKind.CLUB).code == f"{city.code}-club"
        assert city.units.get(kind=UnitKind.ACCOUNT_MANAGER_TEAM).code == f"{city.code}-am"
        assert city.units.get(kind=UnitKind.CALL_CENTRE).code == f"{city.code}-cc"


def test_bigger_branches_have_more_stores(installed):
    stores = {c.code: c.units.filter(kind=UnitKind.STORE).count() for c in City.objects.all()}
    assert all(stores[big] >= 4 for big in ["jinan", "qingdao", "linyi", "weifang", "yantai", "jining", "heze"])
    assert stores["laiwu"] == min(stores.values())
    assert units_of("jinan", UnitKind.STORE).first().code == "jinan-store-1"


def test_install_twice_creates_nothing_and_writes_no_second_audit_row(installed):
    audits = AuditEntry.objects.count()
    again = reference_data_install()
    assert again["cities"] == {"created": 0, "unchanged": 17, "edited": 0}
    assert again["units"]["created"] == 0
    assert again["units"]["unchanged"] == Unit.objects.count()
    assert AuditEntry.objects.count() == audits


def test_install_never_overwrites_an_operator_edit_but_recreates_a_missing_unit(installed):
    City.objects.filter(code="jinan").update(weight=7, name_en="Jinan (capital)")
    Unit.objects.filter(code="jinan-store-2").update(name="济南经十路旗舰店")
    Unit.objects.filter(code="laiwu-club").delete()

    again = reference_data_install()

    assert again["cities"] == {"created": 0, "unchanged": 17, "edited": 1}
    assert again["units"]["created"] == 1
    assert again["units"]["edited"] == 1
    jinan = City.objects.get(code="jinan")
    assert (jinan.weight, jinan.name_en) == (7, "Jinan (capital)")
    assert Unit.objects.get(code="jinan-store-2").name == "济南经十路旗舰店"
    assert Unit.objects.filter(code="laiwu-club", kind=UnitKind.CLUB).exists()


@pytest.mark.parametrize("text", ["jinan", "JiNan", "济南", "济南市", "0531", "531", " 济南 "])
def test_city_lookup_understands_code_name_and_area_code(installed, text):
    assert city_lookup(text).code == "jinan"


def test_city_lookup_understands_english_names_with_apostrophes(installed):
    assert city_lookup("Tai'an").code == "taian"


@pytest.mark.parametrize("text", ["北京", "0100", "beijing", ""])
def test_city_lookup_rejects_what_is_not_a_shandong_branch(installed, text):
    with pytest.raises(ValueError, match="city"):
        city_lookup(text)


def test_unknown_city_error_lists_the_known_ones(installed):
    with pytest.raises(ValueError) as err:
        city_lookup("北京")
    assert "未知地市" in str(err.value) and "济南(jinan, 0531)" in str(err.value)
