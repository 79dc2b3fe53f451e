"""The admin's add form hands `save_model` an unsaved object, and a service creates the row."""

from django.db.models import Model


def adopt_saved(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved `obj` the row the service saved.

    The admin goes on with its own object (the log entry, the message, the redirect to the
    change page), so it must carry the row's values and know it is saved. Only the concrete
    fields and the cached relations are copied: `obj` keeps its own `_state`, marked saved in
    the service's database, instead of sharing the service's.
    """
    if type(obj) is not type(saved):
        raise TypeError(f"cannot adopt a {type(saved).__name__} into a {type(obj).__name__}")
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db
    obj._state.fields_cache = dict(saved._state.fields_cache)
