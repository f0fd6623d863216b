"""Scores partitioned by profile (#28): leads_score becomes a table of list partitions, one per
profile (leads_score_profile_<id>), so that a profile's pass, full rescore and thresholds read
scan only its own rows: the scan for scores citing a changed company read every profile's rows
(docs/benchmarks.md, *The same run with scores partitioned by profile*).

A trigger on leads_profile makes each new profile's partition, whichever way the profile is
inserted (the admin, a command, a test), by CREATE then ATTACH: attaching takes a lock that lets
every read and write of the other profiles' scores go on. The rows are copied once; no score is
computed again, nothing else changes (the model's state is the same)."""

from django.db import migrations

COLUMNS = """
    company_id bigint not null,
    value double precision not null,
    computed_at timestamp with time zone not null,
    neighbour_ids bigint[] not null,
    neighbour_distances double precision[] not null,
    neighbour_labels double precision[] not null,
    kth_distance double precision not null,
    fit double precision not null,
    evidence double precision not null,
    unexplored boolean not null,
    supported boolean not null,
    version bigint not null,
    profile_id bigint not null
"""

# The keys, indexes and triggers of the scores table, whichever shape it has: made after the rows
# are in (one build per index instead of one insert per row and index).
KEYS = """
alter table leads_score add primary key (profile_id, company_id);
create index score_best_fit_first on leads_score (profile_id, fit desc, company_id);
create index score_version on leads_score (profile_id, version);
create index score_company on leads_score (company_id);
alter table leads_score add constraint leads_score_company_id_b1ce2784_fk_leads_company_id
    foreign key (company_id) references leads_company (id) deferrable initially deferred;
alter table leads_score add constraint leads_score_profile_id_fkey
    foreign key (profile_id) references leads_profile (id) deferrable initially deferred;
create trigger leads_score_written after insert or update or delete or truncate on leads_score
    for each statement execute function leads_score_written();
"""

SQL = f"""
alter table leads_score rename to leads_score_unpartitioned;
create table leads_score ({COLUMNS}) partition by list (profile_id);

create function leads_score_partition() returns trigger language plpgsql as $$
declare
    partition text := 'leads_score_profile_' || new.id;
begin
    if to_regclass(partition) is null then
        execute format('create table %I (like leads_score)', partition);
        execute format('alter table leads_score attach partition %I for values in (%s)', partition, new.id);
    end if;
    return null;
end $$;
create trigger leads_score_partition after insert on leads_profile
    for each row execute function leads_score_partition();

do $$
declare
    profile bigint;
begin
    for profile in select id from leads_profile order by id loop
        execute format('create table %I partition of leads_score for values in (%s)',
                       'leads_score_profile_' || profile, profile);
    end loop;
end $$;
insert into leads_score select {", ".join(line.split()[0] for line in COLUMNS.strip().splitlines())}
    from leads_score_unpartitioned;
drop table leads_score_unpartitioned;
{KEYS}
analyze leads_score;
"""

REVERSE_SQL = f"""
drop trigger leads_score_partition on leads_profile;
drop function leads_score_partition();
alter table leads_score rename to leads_score_partitioned;
create table leads_score ({COLUMNS});
insert into leads_score select * from leads_score_partitioned;
drop table leads_score_partitioned;
{KEYS}
analyze leads_score;
"""


class Migration(migrations.Migration):
    dependencies = [("leads", "0041_outcome_settings_per_profile")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
