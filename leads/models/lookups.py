"""`__any_of`: many ids as one bigint[] parameter, and how to write that parameter."""

from __future__ import annotations

from django.db import models


class Ids:
    """Many ids for an `__any_of` lookup, as one bigint[] literal that Django does not look into."""

    def __init__(self, ids) -> None:
        self.literal = id_array(ids)


@models.ForeignKey.register_lookup
@models.IntegerField.register_lookup
class AnyOf(models.Lookup):
    """`id__any_of=[...]`: `id = ANY(%s)`, one array parameter however many ids (Postgres hashes
    it), where `id__in` writes one placeholder per id. Many ids should come as `Ids(ids)`:
    Django walks a list's every element when it builds the query, and on a relation a string's
    every character (docs/benchmarks.md, *Figures behind the design*)."""

    lookup_name = "any_of"
    prepare_rhs = False  # a list, not one value of the field

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = self.rhs.literal if isinstance(self.rhs, Ids) else id_array(self.rhs)
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, ids]


def id_array(values) -> str:
    """A Postgres bigint[] literal ('{1,2,3}') for a `%s::bigint[]` parameter. Passing a list
    instead makes psycopg adapt every element, and type the array by its largest value
    (smallint[], integer[]): compared with a bigint column, Postgres 18 then chose a skip scan of
    the score index over primary-key probes (docs/benchmarks.md, *Figures behind the design*)."""
    return "{" + ",".join(str(int(value)) for value in values) + "}"
