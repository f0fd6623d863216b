"""Search words stemmed in settings.SEARCH_LANGUAGES beside the words as typed: every company's
CompanyWords read again with the one definition (models.companies.words_sql)."""

from django.db import migrations

from leads.models.companies import words_sql


def read_again(apps, schema_editor):
    text = words_sql("concat_ws(' ', c.name, c.industry, c.description)")
    schema_editor.execute(
        f"update leads_companywords w set words = {text} from leads_company c where c.id = w.company_id"
    )


class Migration(migrations.Migration):
    dependencies = [("leads", "0018_score_change_cause_verdicts")]

    operations = [migrations.RunPython(read_again, migrations.RunPython.noop, elidable=True)]
