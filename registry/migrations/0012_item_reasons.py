"""Reasons as data beside their text (ScreeningItem.reasons); rows written before hold NULL
and are read from their text."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0011_platform_attestations"),
    ]

    operations = [
        migrations.AddField(
            model_name="screeningitem",
            name="reasons",
            field=models.JSONField(blank=True, default=list, null=True, verbose_name="reasons"),
        ),
    ]
