"""Model fields of the project's own.

`RecordedAt` is Django's DateTimeField whose `auto_now`/`auto_now_add` stamps read `core.clock.now`, not
`django.utils.timezone.now`: a history simulated on a scratch database (the demo's past days, the bench's
consecutive days, `clock.simulated`) is stamped at its business time, with nothing patched in Django.
"""

from __future__ import annotations

from django.db import models

from onboard90.core import clock


class RecordedAt(models.DateTimeField):
    """When the row was written (`auto_now_add`) or last written (`auto_now`), by `clock.now`."""

    def deconstruct(self):
        # To migrations it is the DateTimeField it stores as: changing a field's class would make Django
        # rebuild the table on SQLite, and a rebuilt table loses the change log's triggers.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs

    def pre_save(self, model_instance, add):
        if self.auto_now or (self.auto_now_add and add):
            value = clock.now()
            setattr(model_instance, self.attname, value)
            return value
        return super().pre_save(model_instance, add)
