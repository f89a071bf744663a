"""The control app keeps its state in its own database (alias `control`, CONTROL_DATABASE_URL): this router
sends the `control` app there and nothing else there."""

DATABASE = "control"
APP_LABEL = "control"


class ControlRouter:
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
