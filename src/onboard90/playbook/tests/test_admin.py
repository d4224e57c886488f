"""The admin lists playbook versions and shows each read-only: versions change only by publishing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from onboard90.playbook import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return services.playbook_install_default()[0]


def test_admin_lists_versions_with_number_name_and_publisher(admin_client, version):
    response = admin_client.get(reverse("admin:playbook_playbookversion_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "山东联通3G客户入网导入期服务方案(试行)" in page and "发布时间" in page


def test_admin_shows_a_version_read_only(admin_client, version):
    response = admin_client.get(reverse("admin:playbook_playbookversion_change", args=[version.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "tariff_notice" in page and 'name="_save"' not in page


def test_admin_cannot_add_or_delete_versions(admin_client, version):
    assert admin_client.get(reverse("admin:playbook_playbookversion_add")).status_code == 403
    delete = reverse("admin:playbook_playbookversion_delete", args=[version.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
