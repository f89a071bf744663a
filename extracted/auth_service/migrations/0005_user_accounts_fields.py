from django.db import migrations, models


class Migration(migrations.Migration):
    """Accounts move here: the profile's phone, the user's origin (owner), and `version` (was
    legacy_version: it now versions changes made on either side)."""

    dependencies = [
        ("auth_service", "0004_audit_keyed_checkpoints"),
    ]

    operations = [
        migrations.RenameField(model_name="user", old_name="legacy_version", new_name="version"),
        migrations.AddField(
            model_name="user",
            name="phone",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="user",
            name="origin",
            field=models.CharField(
                choices=[("monolith", "Monolith"), ("auth", "Auth service")],
                default="monolith",
                max_length=16,
            ),
        ),
    ]
