"""The comparator keeps its results in its own database (alias `shadow`, SHADOW_DATABASE_URL): this router
sends the `shadow` app there and nothing else."""

DATABASE = "shadow"
APP_LABEL = "shadow"


class ShadowRouter:
    def db_for_read(self, model, **hints):
        return DATABASE if model._meta.app_label == APP_LABEL else None

    def db_for_write(self, model, **hints):
        return DATABASE if model._meta.app_label == APP_LABEL else None

    def allow_relation(self, obj1, obj2, **hints):
        labels = {obj1._meta.app_label, obj2._meta.app_label}
        return None if APP_LABEL not in labels else labels == {APP_LABEL}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == APP_LABEL:
            return db == DATABASE
        return False if db == DATABASE else None
