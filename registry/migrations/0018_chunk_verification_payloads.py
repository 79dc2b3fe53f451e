# Verification payloads of a two-phase chunk kept as compact bytes beside its items' JSON,
# which phase 2 no longer writes again.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0017_work_hold"),
    ]

    operations = [
        migrations.AddField(
            model_name="screeningchunk",
            name="verification",
            field=models.BinaryField(
                blank=True, db_default=b"", default=b"", verbose_name="verification payloads"
            ),
        ),
    ]
