"""The API's routes, one module per domain. Routes parse, call and answer; the figures
come from library functions (through ``presentation.views`` and ``presentation.data``)."""
