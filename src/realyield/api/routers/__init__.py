"""The API's routes, one module per domain. Routes parse, call and answer; the figures
come from library functions (through ``api.views`` and ``api.data``)."""
