"""The managers' reports at ``/reports/`` (staff pages): the pages and exports (``pages``) and
their server-drawn SVG charts (``charts``). The figures come from ``tables.reports``."""
