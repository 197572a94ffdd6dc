"""Service requests: the shared queue and one module per kind's workflow.

- ``queue`` — the ``ServiceRequest`` and ``RequestEvent`` tables, kinds, states and labels; the
  building blocks every workflow composes (claim a state change, write the event, audit and
  notification); taking, answering, closing (done / rejected), the subscriber's message and
  cancel; the listings the cabinet reads.
- ``filing`` — the subscriber's request form (``file_request``) and each kind's rules for it.
- ``connection`` — a visitor's connection application → a signed contract.
- ``tariff_change`` — a tariff change, booked for the next month.
- ``termination`` — a termination, at once or on a date; the daily job; the final statement.
- ``balance_refund`` — a terminated contract's leftover balance paid back.

Import names from the module that holds them (``from tables.requests.queue import
ServiceRequest``); nothing is re-exported here. See ``docs/requests.md``.
"""
