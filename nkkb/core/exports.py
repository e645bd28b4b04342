"""Records as CSV: admin's export and the data release write it the same way."""

import csv
import json
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .knowledge_base import with_relations


def write_records_csv(queryset: models.QuerySet, stream) -> int:
    """Write `queryset` as CSV: a column per field, related records by name, lists as JSON.

    Shared by admin's CSV export and the data release. Runs a fixed number of queries.
    """
    meta = queryset.model._meta
    fields = [*meta.concrete_fields, *meta.many_to_many]
    writer = csv.writer(stream)
    writer.writerow([field.name for field in fields])
    count = 0
    for record in with_relations(queryset.order_by("pk")):
        writer.writerow([_csv_cell(record, field) for field in fields])
        count += 1
    return count


def _csv_cell(record, field) -> str:
    if field.many_to_many:
        return json.dumps([str(related) for related in getattr(record, field.name).all()])
    value = getattr(record, field.name)
    if value is None:
        return ""
    if field.is_relation:
        return str(value)
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return ReleaseJSONEncoder().default(value)
    return str(value)


class ReleaseJSONEncoder(DjangoJSONEncoder):
    """Timestamps always to the millisecond, "...:27.000Z" included.

    JSON keeps milliseconds only, so a reloaded release holds whole milliseconds; Django's encoder
    drops a fraction that is zero, which would make such a timestamp export differently.
    """

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return super().default(o)
