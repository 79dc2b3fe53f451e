# Held works (Work.hold), their release event, and the upload problem "registered already".

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0016_work_refingerprinted'),
    ]

    operations = [
        migrations.AddField(
            model_name='work',
            name='hold',
            field=models.CharField(blank=True, choices=[('unchecked', "Not checked against every other artist's work")], default='', max_length=20, verbose_name='held'),
        ),
        migrations.AlterField(
            model_name='consentevent',
            name='kind',
            field=models.CharField(choices=[('work_registered', 'Work registered'), ('work_removed', 'Work removed'), ('terms_changed', 'Terms changed'), ('defaults_changed', 'Default terms changed'), ('grant_created', 'Grant created'), ('grant_revoked', 'Grant revoked'), ('dispute_opened', 'Dispute opened'), ('dispute_resolved', 'Dispute resolved'), ('site_verified', 'Site reservation verified'), ('site_removed', 'Site reservation removed'), ('assurance_changed', 'Assurance changed'), ('platform_settings_changed', 'Platform settings changed'), ('work_refingerprinted', 'Work fingerprinted again'), ('work_hold_cleared', 'Held work checked and released')], max_length=32, verbose_name='kind'),
        ),
        migrations.AlterField(
            model_name='pendingupload',
            name='problem',
            field=models.CharField(blank=True, choices=[('empty', 'Empty file'), ('too_large', 'File too large'), ('not_an_image', 'Not an image in an accepted format'), ('too_many_pixels', 'Too many pixels'), ('unreadable', 'Unreadable image'), ('not_registered', 'Not registered'), ('already_registered', 'Registered already'), ('too_slow', 'Took too long'), ('internal', 'Error on our side')], default='', max_length=20, verbose_name='problem'),
        ),
        migrations.AddIndex(
            model_name='work',
            index=models.Index(condition=models.Q(('hold', ''), _negated=True), fields=['id'], name='work_held'),
        ),
    ]
