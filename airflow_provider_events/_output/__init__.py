"""Writing an export: ``formats`` (which format, one writer each), ``staging`` (files that appear only
whole, locally or on object storage) and ``export`` (series routed to their ``{event}``/``{day}`` files)."""
