"""Publishing versions: content decides whether a version is new; published versions never change."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from onboard90.core.models import AuditEntry
from onboard90.playbook import schema, selectors, services
from onboard90.playbook.models import PlaybookVersion

pytestmark = pytest.mark.django_db


def test_publishing_the_same_document_twice_gives_one_version():
    first, created = services.playbook_publish(document=services.default_document(), source="a.yaml")
    again, created_again = services.playbook_publish(document=services.default_document(), source="b.yaml")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and first.number == 1
    assert PlaybookVersion.objects.count() == 1


def test_a_changed_document_becomes_version_two_and_version_one_stays_as_it_was():
    v1, _ = services.playbook_publish(document=services.default_document())
    stored_v1 = (v1.document, v1.checksum)
    document = services.default_document()
    document["stages"][1]["actions"][0]["window"]["end"] = 12
    v2, created = services.playbook_publish(document=document)
    assert created and v2.number == 2
    v1.refresh_from_db()
    assert (v1.document, v1.checksum) == stored_v1
    assert v1.document["stages"][1]["actions"][0]["window"]["end"] == 10
    assert selectors.current_version() == v2


def test_the_stored_document_is_the_validated_one_with_its_checksum():
    version, _ = services.playbook_publish(document=services.default_document())
    assert version.document == schema.validate(services.default_document()).model_dump(mode="json")
    assert version.checksum == services.document_checksum(version.document)
    assert selectors.playbook_of(version).action("first_callback").superseded_by == "vip_first_callback"


def test_going_back_to_an_earlier_content_is_a_new_version():
    document = services.default_document()
    services.playbook_publish(document=document)
    changed = services.default_document()
    changed["journey_days"] = 91
    services.playbook_publish(document=changed)
    v3, created = services.playbook_publish(document=document)
    assert created and v3.number == 3


def test_a_bad_document_is_refused_before_anything_is_written():
    document = services.default_document()
    document["stages"][2]["actions"][0]["window"].update(start=2, end=0)
    with pytest.raises(schema.PlaybookError):
        services.playbook_publish(document=document)
    assert not PlaybookVersion.objects.exists()
    assert not AuditEntry.objects.exists()


def test_publishing_is_audited_with_the_publisher():
    admin = get_user_model().objects.create_user(username="province_admin")
    version, _ = services.playbook_publish(document=services.default_document(), published_by=admin)
    entry = AuditEntry.objects.get(verb="playbook.publish")
    assert (entry.actor, entry.object_id, entry.object_type) == (
        admin,
        str(version.pk),
        "playbook.playbookversion",
    )
    assert entry.after["number"] == 1 and len(entry.after["actions"]) == 17
    assert version.published_by == admin


def test_a_republish_without_change_writes_no_audit_row():
    services.playbook_publish(document=services.default_document())
    services.playbook_publish(document=services.default_document())
    assert AuditEntry.objects.filter(verb="playbook.publish").count() == 1


def test_installing_the_default_is_idempotent():
    version, created = services.playbook_install_default()
    again, created_again = services.playbook_install_default()
    assert (created, created_again) == (True, False)
    assert again == version and version.source == services.DEFAULT_SOURCE


def test_installing_the_default_never_replaces_an_operators_playbook():
    document = services.default_document()
    document["name"] = "济南试点方案"
    own, _ = services.playbook_publish(document=document)
    current, created = services.playbook_install_default()
    assert not created and current == own
    assert PlaybookVersion.objects.count() == 1
