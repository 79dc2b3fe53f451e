"""Artists' personal tokens: a digest instead of the secret, an expiry, a revocation time.

Tokens made by rest_framework.authtoken (stored in plain text, never expiring) become digests
that keep working until the default expiry from now; their plain text is deleted. Tokens of users
who are not artists are deleted: they opened no artist endpoint.
"""

import hashlib
from datetime import timedelta

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

PLAIN_TOKENS = "authtoken_token"


def tokens_to_digests(apps, schema_editor):
    connection = schema_editor.connection
    if PLAIN_TOKENS not in connection.introspection.table_names():
        return
    ArtistToken = apps.get_model("registry", "ArtistToken")
    Artist = apps.get_model("registry", "Artist")
    artists = dict(Artist.objects.values_list("user_id", "pk"))
    expires_at = django.utils.timezone.now() + timedelta(
        days=getattr(settings, "CONSENTRY_ARTIST_TOKEN_DAYS", 90)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {PLAIN_TOKENS}")  # noqa: S608
        rows = cursor.fetchall()
    ArtistToken.objects.bulk_create(
        ArtistToken(
            artist_id=artists[user_id],
            name="converted",
            prefix=key[:8],
            digest=hashlib.sha256(key.encode()).hexdigest(),
            created_at=created,
            expires_at=expires_at,
        )
        for key, user_id, created in rows
        if user_id in artists
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PLAIN_TOKENS}")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0006_chunk_digest_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="ArtistToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=100, verbose_name="name")),
                ("prefix", models.CharField(max_length=8, verbose_name="prefix")),
                ("digest", models.CharField(max_length=64, unique=True, verbose_name="digest")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="created at"
                    ),
                ),
                ("expires_at", models.DateTimeField(verbose_name="expires at")),
                (
                    "revoked_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="revoked at"),
                ),
                (
                    "artist",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tokens",
                        to="registry.artist",
                        verbose_name="artist",
                    ),
                ),
            ],
            options={
                "verbose_name": "personal API token",
                "verbose_name_plural": "personal API tokens",
                "ordering": ["-created_at"],
            },
        ),
        # The plain text cannot come back: reversing keeps the digests and restores nothing.
        migrations.RunPython(tokens_to_digests, migrations.RunPython.noop),
    ]
