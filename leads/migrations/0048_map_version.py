"""Numbers that move on every write to what the map's points show besides the scores:
leads_mappoint_version on every write to the points (their places), leads_company_version on every
write to the companies (their names) and the verdicts. With leads_score_version and
leads_score_published they key the map's cached points (map.selectors.map_points_json), as those
two key the distribution; the count of points is keyed by the first alone."""

from django.db import migrations

SEQUENCES = {
    "leads_mappoint_version": ("leads_mappoint",),
    "leads_company_version": ("leads_company", "leads_currentverdict"),
}


def forward() -> str:
    sql = ""
    for sequence, tables in SEQUENCES.items():
        sql += f"""
create sequence {sequence};
select nextval('{sequence}');
create function {sequence}_moved() returns trigger language plpgsql as $$
begin
    perform nextval('{sequence}');
    return null;
end $$;
"""
        for table in tables:
            sql += (
                f"create trigger {sequence}_moved after insert or update or delete or truncate on {table}"
                f" for each statement execute function {sequence}_moved();\n"
            )
    return sql


def backward() -> str:
    sql = ""
    for sequence, tables in SEQUENCES.items():
        sql += "".join(f"drop trigger {sequence}_moved on {table};\n" for table in tables)
        sql += f"drop function {sequence}_moved();\ndrop sequence {sequence};\n"
    return sql


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0047_country_by_name'),
    ]

    operations = [migrations.RunSQL(forward(), backward())]
