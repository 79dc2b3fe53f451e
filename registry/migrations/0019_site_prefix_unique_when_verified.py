# A site prefix is unique among verified registrations only (and once per artist): an unverified
# registration proves nothing and must not keep the site's owner from registering it.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0018_chunk_verification_payloads"),
    ]

    operations = [
        migrations.AlterField(
            model_name="artistsite",
            name="url_prefix",
            field=models.CharField(max_length=500, verbose_name="URL prefix"),
        ),
        migrations.AddConstraint(
            model_name="artistsite",
            constraint=models.UniqueConstraint(
                condition=models.Q(("verified", True)),
                fields=("url_prefix",),
                name="site_prefix_verified_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="artistsite",
            constraint=models.UniqueConstraint(
                fields=("artist", "url_prefix"), name="site_prefix_per_artist"
            ),
        ),
    ]
