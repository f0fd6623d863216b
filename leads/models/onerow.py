"""Tables of one row (id 1): the state a feature keeps for the whole team, read and written the
same way everywhere."""

from __future__ import annotations

from django.db import models


class OneRow(models.Model):
    class Meta:
        abstract = True

    @classmethod
    def get(cls):
        """The row, made with its defaults if there is none yet (a test's flush, a restore)."""
        row, _ = cls.objects.get_or_create(pk=1)
        return row

    @classmethod
    def read(cls, *fields: str) -> tuple | None:
        """The row's `fields` without making it: None when there is no row."""
        return cls.objects.filter(pk=1).values_list(*fields).first()

    @classmethod
    def change(cls, **values) -> bool:
        """Update the row's fields in one statement; whether there was a row."""
        return bool(cls.objects.filter(pk=1).update(**values))
