"""Data migration: the Groups customer, staff and admin with their model permissions (see accounts.roles).

Permissions are normally created by the post_migrate signal, after every migration has run; on a fresh
database they do not exist yet here, so they are created first from the historical models.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from legacy_monolith.accounts.roles import ROLE_PERMISSIONS, role_group_sync


def create_role_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in ROLE_PERMISSIONS:
        role_group_sync(role=role, group_model=group_model, permission_model=permission_model)


def delete_role_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
        ("orders", "0001_initial"),
        ("payments", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_role_groups, delete_role_groups)]
