"""Notice settings kept in this device's own settings table (models.Setting): local,
never in the event log, so the SMTP password is not shipped anywhere."""

from ..models import Setting


def read(key, default=None):
    row = Setting.get_or_none(Setting.key == key)
    return default if row is None or row.value is None else row.value


def write(key, value):
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}).execute()
