"""Serializer fields and bases every model's serializer uses: links, counts, provenance,
versions, and validation as admin does it."""

import copy
import functools
import itertools
from operator import attrgetter

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import BigIntegerField
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..facets import record_counts
from ..links import absolute_record_url, absolute_url, filtered_list_url, record_url
from ..models import CuratedModel, ReviewSection
from .exceptions import api_errors


class RecordURLField(serializers.HyperlinkedIdentityField):
    """The record's API URL, its view's pattern reversed once (see nkkb.core.links)."""

    def get_url(self, obj, view_name, request, format):
        if format or obj.pk is None:
            return super().get_url(obj, view_name, request, format)
        key = str(getattr(obj, self.lookup_field))
        return (
            absolute_record_url(request, view_name, key) if request else record_url(view_name, key)
        )

    def to_representation_in(self, record, context):
        """The URL of `record` (any object with `pk` and the lookup field) for the request in
        `context`, given rather than bound (PlainRepresentation)."""
        return self.get_url(record, self.view_name, context["request"], context.get("format"))


@extend_schema_field(OpenApiTypes.URI)
class HTMLURLField(serializers.ReadOnlyField):
    """The record's page on the site (its `get_absolute_url`), as an absolute URL."""

    def __init__(self, **kwargs):
        super().__init__(source="get_absolute_url", **kwargs)

    def to_representation(self, value):
        return self.to_representation_in(value, self.context)

    @staticmethod
    def to_representation_in(value, context):
        return absolute_url(context["request"], value)


@extend_schema_field(OpenApiTypes.INT)
class FacetCountField(serializers.ReadOnlyField):
    """How many records the list registered for this model's records finds for this one
    (nkkb.core.facets.RecordFacet): the list's facet count, kept per data version, so a list of
    records runs no query per record."""

    def __init__(self, **kwargs):
        super().__init__(source="slug", **kwargs)

    @cached_property
    def counts(self) -> dict[str, int]:
        return record_counts(self.parent.Meta.model)

    def to_representation(self, slug):
        return self.counts.get(slug, 0)


@extend_schema_field(OpenApiTypes.URI)
class FilteredListURLField(serializers.ReadOnlyField):
    """A list of the API filtered to this record (`<list>?<parameter>=<slug>`)."""

    def __init__(self, view_name: str, parameter: str, **kwargs):
        self.view_name, self.parameter = view_name, parameter
        super().__init__(source="slug", **kwargs)

    def to_representation(self, slug):
        url = filtered_list_url(self.view_name, **{self.parameter: slug})
        return absolute_url(self.context["request"], url)


class ComputedListSerializer(serializers.ListSerializer):
    """A read-only list of `child` that `compute(record)` derives from the record."""

    def __init__(self, *args, compute, **kwargs):
        self.compute = compute
        super().__init__(*args, source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        return super().to_representation(self.compute(instance))


class BriefSlugRelatedField(serializers.SlugRelatedField):
    """A relation written as the related records' slugs and read as their brief serializer."""

    def __init__(self, brief_serializer, **kwargs):
        self.brief_serializer = brief_serializer
        super().__init__(slug_field="slug", **kwargs)

    @cached_property
    def _brief(self):
        # One serializer for every related record: building one per record (its fields
        # introspected from the model each time) was costly (BENCHMARKS.md, "Figures behind
        # the code").
        return self.brief_serializer(context=self.context)

    def to_representation(self, obj):
        return self._brief.to_representation(obj)


class PlainRepresentation:
    """A serializer's representation of plain records rather than model instances: the same
    fields in the same order, each value formatted by the field's own `to_representation`, so
    that both give the same JSON (tests/test_read_path.py), at a fraction of the cost.

    Built once from a serializer and kept: a serializer builds its nested serializers' fields on
    every use (from model introspection), and its fields read records through model instances.
    A plain record holds what each field reads under the field's `source` (a dotted source
    through plain records; a source naming a method is called, as DRF calls it), related
    records as plain records (lists of them for a to-many relation), and the list that a
    ComputedListSerializer derives from the record under the field's name. Fields that need the
    request (`to_representation_in`) take it from the context given with each record.
    """

    def __init__(self, serializer: serializers.Serializer):
        model = getattr(getattr(serializer, "Meta", None), "model", None)
        self.fields = [
            (name, _plain_reader(field, model), _plain_formatter(field), _kept_type(field))
            for name, field in serializer.fields.items()
            if not field.write_only
        ]
        # The relation each field reads through (`agent` of `agent.name`), if it does.
        self.throughs = {
            name: field.source_attrs[0]
            for name, field in serializer.fields.items()
            if len(field.source_attrs) > 1
        }
        self.parts = self._parts()

    def _parts(self) -> list[tuple[str | None, list[tuple]]]:
        """The fields in runs of those read through one relation (or through none)."""
        runs = itertools.groupby(self.fields, key=lambda field: self.throughs.get(field[0]))
        return [(through, list(fields)) for through, fields in runs]

    def selecting(self, names) -> "PlainRepresentation":
        """The representation with only the fields `names` (in the serializer's order)."""
        selected = copy.copy(self)
        selected.fields = [field for field in self.fields if field[0] in names]
        selected.parts = selected._parts()
        return selected

    def __call__(self, record, context: dict) -> dict:
        """The representation of `record`. Where `context` holds SHARED_PARTS (a dict for one
        page), the fields read through a relation are represented once per related record
        of the page: an agent given in many of a page's trials is represented once."""
        shared = context.get(SHARED_PARTS)
        representation = {}
        for through, fields in self.parts:
            if through is None or shared is None:
                _represent_into(representation, fields, record, context)
                continue
            related = getattr(record, through)
            # Kept with its part, the related record stays alive, so its id names it alone.
            key = (id(fields), id(related))
            if key not in shared:
                shared[key] = (related, _represent_into({}, fields, record, context))
            representation.update(shared[key][1])
        return representation


# Where one page's representations (PlainRepresentation) keep what their records share: a key
# of the context they are given, holding a dict.
SHARED_PARTS = "plain_shared_parts"


def _represent_into(representation: dict, fields, record, context) -> dict:
    """`representation` with `fields` of `record` added."""
    for name, read, represent, kept_type in fields:
        value = read(record)
        representation[name] = (
            value if value is None or value.__class__ is kept_type else represent(value, context)
        )
    return representation


def _itself(record):
    return record


def _plain_reader(field, model):
    """How `field` reads its value from a plain record of `model`'s (None: a serializer of no
    model): a source that names model fields is read as it is; another may name a method,
    called as DRF calls it."""
    if isinstance(field, ComputedListSerializer):
        return attrgetter(field.field_name)
    if field.source == "*":
        return _itself
    get = attrgetter(field.source)
    if model is not None and _names_fields(model, field.source_attrs):
        return get

    def read(record):
        value = get(record)
        return value() if callable(value) else value

    return read


def _names_fields(model, names: list[str]) -> bool:
    """Whether `names` are fields of `model`, each but the last a relation to the next's model."""
    for name in names:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        model = model_field.related_model
    return True


def _kept_type(field) -> type | None:
    """The type of value `field` represents as it is (its `to_representation` gives an equal
    value of that type back): skipping the call for each such value, most of a record's, was a
    large part of a representation's cost. None where there is none."""
    to_representation = type(field).to_representation
    if to_representation is serializers.CharField.to_representation:
        return str  # str(value)
    if to_representation is serializers.IntegerField.to_representation:
        return int  # int(value); a bool is no int here, as True is not 1 in JSON
    if to_representation is serializers.ChoiceField.to_representation and all(
        type(choice) is str for choice in field.choice_strings_to_values.values()
    ):
        return str  # the choice whose text the value is: the value itself
    return None


def _plain_formatter(field):
    """How `field` represents the plain value it read, as a function of it and the context."""
    if hasattr(field, "to_representation_in"):
        return field.to_representation_in
    if isinstance(field, serializers.ListSerializer):
        return _each(_plain_formatter(field.child))
    if isinstance(field, serializers.ManyRelatedField):
        return _each(_plain_formatter(field.child_relation))
    if isinstance(field, BriefSlugRelatedField):
        return PlainRepresentation(field.brief_serializer())
    if isinstance(field, serializers.Serializer):
        return PlainRepresentation(field)
    to_representation = field.to_representation
    return lambda value, context: to_representation(value)


def _each(represent):
    return lambda items, context: [represent(item, context) for item in items]


def _validated_with(model, sent: set[str]) -> set[str]:
    """The fields of `model` that validating the fields `sent` reads: those, and every field a
    constraint (or `unique_together`) reads with one of them; every field where a constraint's
    fields are not known (an expression)."""
    validated = set(sent)
    for fields in _constraint_fields(model):
        if fields is None:
            return {field.name for field in model._meta.concrete_fields}
        if fields & sent:
            validated |= fields
    return validated


@functools.cache
def _constraint_fields(model) -> list[set[str] | None]:
    """The names of the fields each of `model`'s constraints reads (None where not known)."""
    found = [set(names) for names in model._meta.unique_together]
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            names = models.Q(constraint.condition).referenced_base_fields
        elif isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            names = set(constraint.fields)
            if constraint.condition is not None:
                names |= models.Q(constraint.condition).referenced_base_fields
        else:
            found.append(None)
            continue
        found.append({model._meta.pk.name if name == "pk" else name for name in names})
    return found


class ProvenanceSerializer(serializers.Serializer):
    """Where in the review a record's facts come from (the model's `source_*` fields)."""

    section = serializers.ChoiceField(choices=ReviewSection.choices, source="source_section")
    references = serializers.ListField(
        child=serializers.IntegerField(min_value=1), source="source_references", required=False
    )
    quote = serializers.CharField(
        source="source_quote", max_length=CuratedModel._meta.get_field("source_quote").max_length
    )
    summary = serializers.CharField(source="source_summary")


class VersionField(serializers.IntegerField):
    """A record's `version` (optimistic locking), bounded so that the version a change is based
    on and the next one (at least one more) fit the database column: beyond it, the database
    would refuse the query instead of the API refusing the value."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            min_value=0,
            max_value=BigIntegerField.MAX_BIGINT - 1,
            help_text=(
                "The record's version. Send the version you read with every change: a change "
                "based on a version that is no longer current is refused (409), so no "
                "concurrent edit is lost."
            ),
            **kwargs,
        )


class DateTimeField(serializers.DateTimeField):
    """A time in the site's time zone (TIME_ZONE), which NKKB never changes per request: named
    once, where DRF looks up the current time zone for each time it writes, most of the cost of
    writing one (BENCHMARKS.md, "Issue 17, twelfth round")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", timezone.get_default_timezone())
        super().__init__(**kwargs)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, with NKKB's serializer fields for the model fields above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }


class ModelCleanSerializer(ModelSerializer):
    """Validates as admin does, with the model's `full_clean` (constraints included), and
    reports each problem under the API's name for the field. Saves all or nothing.

    A partial update (PATCH) validates the fields it sends and every field a constraint reads
    with one of them, as admin validates the fields of its form: the others hold what the
    database accepted, and checking each of their constraints again (a query each) was most of
    a one-field PATCH's validation (BENCHMARKS.md, "Issue 17, seventeenth round").

    Changes to a record with a `version` must say which version they are based on.
    """

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "version" in self.fields and "version" not in attrs:
            raise serializers.ValidationError(
                {"version": ["Send the version of the record you read."]}
            )
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        concrete = {field.name for field in model._meta.concrete_fields}
        for name, value in attrs.items():
            if name in concrete:
                setattr(instance, name, value)
        api_names = self.api_names()
        exclude = concrete - set(api_names)
        if self.partial and self.instance is not None:
            exclude |= concrete - _validated_with(model, set(attrs))
        try:
            instance.full_clean(exclude=exclude)
        except DjangoValidationError as error:
            raise serializers.ValidationError(api_errors(error, api_names)) from None
        return attrs

    def api_names(self) -> dict[str, tuple[str, ...]]:
        """{model field: its path in the API} for every field this serializer writes."""
        names = {}
        for name, field in self.fields.items():
            if field.read_only:
                continue
            if field.source == "*" and isinstance(field, serializers.Serializer):
                for sub_name, sub in field.fields.items():
                    names[sub.source] = (name, sub_name)
            else:
                names[field.source] = (name,)
        return names

    def create(self, validated_data):
        # A new record starts at its first version whatever the client sends: a version near the
        # column's maximum would leave it no next version, and so no edit.
        validated_data.pop("version", None)
        with transaction.atomic():
            return super().create(validated_data)

    def update(self, instance, validated_data):
        with transaction.atomic():
            return super().update(instance, validated_data)
