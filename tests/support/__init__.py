"""Helpers shared by the tests (factories, clients, live servers, the payment sandbox, the browser);
no tests here. Fixtures stay in the conftest.py files."""
