from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0003_secret_residue"),
    ]

    operations = [
        migrations.RenameField(model_name="device", old_name="secret_residue", new_name="residue"),
    ]
