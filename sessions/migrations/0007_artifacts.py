# Screens and step screenshots move from database blobs to the artifact storage (issue 15).

import django.db.models.deletion
from django.core.files.base import ContentFile
from django.db import migrations, models

import core.storage


def blobs_to_files(apps, schema_editor):
    """Every stored screen's picture and every step's screenshot becomes a file in the artifact storage."""
    storage = core.storage.artifact_storage()
    Screen = apps.get_model("test_sessions", "Screen")
    Step = apps.get_model("test_sessions", "Step")
    for screen in Screen.objects.only("pk", "session_id", "screen_hash", "png").iterator(chunk_size=100):
        png = bytes(screen.png or b"")
        if png:
            name = storage.save(f"sessions/{screen.session_id}/screens/{screen.screen_hash}.png", ContentFile(png))
            Screen.objects.filter(pk=screen.pk).update(picture=name, size=len(png))
    shots = Step.objects.filter(screenshot__isnull=False).only("pk", "session_id", "screenshot")
    for step in shots.iterator(chunk_size=100):
        png = bytes(step.screenshot or b"")
        if png:
            name = storage.save(f"sessions/{step.session_id}/steps/{step.pk}-screenshot.png", ContentFile(png))
            Step.objects.filter(pk=step.pk).update(screenshot_file=name)


def files_to_blobs(apps, schema_editor):
    storage = core.storage.artifact_storage()
    Screen = apps.get_model("test_sessions", "Screen")
    Step = apps.get_model("test_sessions", "Step")

    def read(name):
        with storage.open(name, "rb") as file:
            return file.read()

    for screen in Screen.objects.exclude(picture="").iterator(chunk_size=100):
        Screen.objects.filter(pk=screen.pk).update(png=read(screen.picture.name))
    for step in Step.objects.exclude(screenshot_file="").iterator(chunk_size=100):
        Step.objects.filter(pk=step.pk).update(screenshot=read(step.screenshot_file.name))


class Migration(migrations.Migration):

    dependencies = [
        ('test_sessions', '0006_next_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='screen',
            name='picture',
            field=models.FileField(blank=True, max_length=255, storage=core.storage.artifact_storage, upload_to=''),
        ),
        migrations.AddField(
            model_name='screen',
            name='size',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='step',
            name='screenshot_file',
            field=models.FileField(blank=True, editable=False, max_length=255, storage=core.storage.artifact_storage, upload_to=''),
        ),
        migrations.AlterField(
            model_name='screen',
            name='png',
            field=models.BinaryField(null=True),
        ),
        migrations.RunPython(blobs_to_files, files_to_blobs, elidable=True),
        migrations.RemoveField(
            model_name='screen',
            name='png',
        ),
        migrations.RemoveField(
            model_name='step',
            name='screenshot',
        ),
        migrations.RenameField(
            model_name='step',
            old_name='screenshot_file',
            new_name='screenshot',
        ),
        migrations.CreateModel(
            name='Artifact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('log', 'Log'), ('failure_log', 'Failure Log'), ('recording', 'Recording')], max_length=16)),
                ('file', models.FileField(max_length=255, storage=core.storage.artifact_storage, upload_to='')),
                ('size', models.PositiveBigIntegerField(default=0)),
                ('lines', models.PositiveIntegerField(default=0)),
                ('frames', models.PositiveIntegerField(default=0)),
                ('upto_seq', models.PositiveIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('session', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='artifacts', to='test_sessions.testsession')),
                ('step', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='artifacts', to='test_sessions.step')),
            ],
            options={
                'indexes': [models.Index(fields=['session', 'kind', 'id'], name='test_sessio_session_b10f13_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('kind__in', ['log', 'failure_log', 'recording'])), name='artifact_kind_valid')],
            },
        ),
    ]
